/// One forward-only schema change, identified by its version number.
public struct Migration: Sendable {
    /// Strictly increasing version number.
    public let version: Int
    /// A short name, e.g. `attempts_and_nodes`.
    public let name: String
    /// The DDL, run as one script inside the migration transaction.
    public let sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
