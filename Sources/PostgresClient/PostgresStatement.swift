/// A named SQL statement with `$n` placeholders: the form every query in this project takes.
///
/// SQL lives next to the Swift that runs it as `static let` constants of this type; values only ever travel
/// as bind parameters. The name shows up in errors, logs and metrics instead of the SQL or its values. Prepared
/// statements are created once per connection and reused.
public struct PostgresStatement: Sendable, Hashable, CustomStringConvertible {
    /// A short identifier, e.g. `claim_attempts`.
    public let name: String
    /// The SQL text with `$1`, `$2`, … placeholders.
    public let sql: String
    /// Whether the statement is prepared once per connection and reused (the default), or parsed on each run.
    public let isPrepared: Bool

    /// Creates a statement.
    public init(name: String, sql: String, isPrepared: Bool = true) {
        self.name = name
        self.sql = sql
        self.isPrepared = isPrepared
    }

    public var description: String { name }
}
