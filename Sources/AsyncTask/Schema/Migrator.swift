public import Foundation
public import PostgresClient

/// Applies the schema's migrations, safely when several processes run it at once.
///
/// All pending migrations run in one transaction that first takes a transaction-scoped advisory lock, so
/// concurrent `asynctask migrate` runs queue behind each other and each migration is applied exactly once.
public struct Migrator: Sendable {
    /// One migration and whether (and when) it was applied.
    public struct Status: Sendable, Hashable, Codable {
        /// The migration's version.
        public let version: Int
        /// The migration's name.
        public let name: String
        /// When it was applied, or nil when it is pending.
        public let appliedAt: Date?
    }

    /// The migrations this migrator applies, in order.
    public let migrations: [Migration]

    /// Creates a migrator for `migrations` (the schema's by default).
    public init(migrations: [Migration] = Schema.migrations) {
        self.migrations = migrations
    }

    // Arbitrary but fixed: the advisory lock key that serialises migrators ("asynctas" in ASCII).
    static let lockKey: Int64 = 0x6173_796E_6374_6173

    static let lock = PostgresStatement(name: "migrate_lock", sql: "SELECT pg_advisory_xact_lock($1)")
    static let createTable = """
        CREATE TABLE IF NOT EXISTS async_task_schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    static let applied = PostgresStatement(
        name: "migrations_applied", sql: "SELECT version, applied_at FROM async_task_schema_migrations ORDER BY version")
    static let record = PostgresStatement(
        name: "migration_record", sql: "INSERT INTO async_task_schema_migrations (version, name) VALUES ($1, $2)")
    static let tableExists = PostgresStatement(
        name: "migrations_table_exists", sql: "SELECT to_regclass('async_task_schema_migrations') IS NOT NULL AS present")

    /// Applies every pending migration in one transaction.
    /// - Returns: the versions applied by this call (empty when the schema was current).
    /// - Throws: `PostgresError` from the failing migration, named by its version; nothing is applied then.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [Int] {
        // A table the gem generated (or anyone else) stops here with a message, before v1's CREATE TABLE fails.
        try await migrate(on: connection, preparing: GemTableAdoption.refuseUnadopted)
    }

    /// Applies every pending migration in one transaction, after `prepare` ran in it under the migrators' lock
    /// (`GemTableAdoption` turns the gem's table into schema v1 there and records version 1).
    @discardableResult
    func migrate(on connection: PostgresConnection, preparing prepare: (PostgresConnection) async throws -> Void) async throws -> [Int] {
        try await connection.withTransaction { connection in
            try await connection.query(Self.lock, [Self.lockKey])
            try await connection.execute(script: Self.createTable, name: "migrations_table")
            try await prepare(connection)
            let done = Set(try await connection.query(Self.applied).map { row throws(PostgresError) in try row.decode(Int.self, "version") })
            var applied: [Int] = []
            for migration in migrations where !done.contains(migration.version) {
                do {
                    try await connection.execute(script: migration.sql, name: "migration_\(migration.version)_\(migration.name)")
                } catch var error as PostgresError {
                    error.message = "migration \(migration.version) (\(migration.name)) failed: \(error.message)"
                    throw error
                }
                try await connection.query(Self.record, [migration.version, migration.name])
                applied.append(migration.version)
            }
            return applied
        }
    }

    /// Every known migration with its applied time, plus versions the database has that this build does not
    /// know (a newer build migrated it).
    public func status(on connection: PostgresConnection) async throws -> [Status] {
        let present = try await connection.query(Self.tableExists).single().decode(Bool.self, "present")
        var appliedAt: [Int: Date] = [:]
        if present {
            for row in try await connection.query(Self.applied) {
                appliedAt[try row.decode(Int.self, "version")] = try row.decode(Date.self, "applied_at")
            }
        }
        var result = migrations.map { Status(version: $0.version, name: $0.name, appliedAt: appliedAt[$0.version]) }
        let known = Set(migrations.map(\.version))
        for (version, date) in appliedAt where !known.contains(version) {
            result.append(Status(version: version, name: "(unknown to this build)", appliedAt: date))
        }
        return result.sorted { $0.version < $1.version }
    }

    /// True when every known migration is applied.
    public func isCurrent(on connection: PostgresConnection) async throws -> Bool {
        try await status(on: connection).allSatisfy { $0.appliedAt != nil }
    }
}
