import Foundation
public import PostgresClient

/// A fresh, empty database on the private PostgreSQL that `make test` starts, one per test, dropped afterwards.
///
/// The server comes from `ASYNCTASK_TEST_DATABASE_URL` (set by `scripts/with-postgres.sh`); tests fail with a
/// clear message when it is missing rather than touching any shared server.
public struct TestDatabase: Sendable {
    /// The database's name.
    public let name: String
    /// A URL for the database (superuser, trust auth on loopback).
    public let url: String
    /// The server's admin URL.
    public let serverURL: String
    /// Its connection configuration.
    public let configuration: PostgresConfiguration

    /// The admin URL of the private server.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["ASYNCTASK_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError("ASYNCTASK_TEST_DATABASE_URL is not set: run the tests with `make test` (it starts a private PostgreSQL)")
        }
        return url
    }

    /// Creates a database, runs `body`, and drops it however `body` ends.
    @discardableResult
    public static func with<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let database = try await create()
        do {
            let value = try await body(database)
            try await database.drop()
            return value
        } catch {
            try? await database.drop()
            throw error
        }
    }

    /// Creates an empty database with a unique name, on the suite's server or on `server`.
    public static func create(on server: String? = nil) async throws -> TestDatabase {
        let serverURL = try server ?? serverURL()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let admin = try await PostgresConnection.connect(try PostgresConfiguration(url: serverURL))
        // CREATE DATABASE takes no bind parameters; the name is generated above from hex digits only.
        try await admin.execute(script: "CREATE DATABASE \(name) TEMPLATE template0", name: "create_test_database")
        await admin.close()
        let url = serverURL.replacingOccurrences(of: "/postgres", with: "/\(name)")
        return TestDatabase(
            name: String(name), url: url, serverURL: serverURL, configuration: try PostgresConfiguration(url: url, applicationName: "asynctask-tests")
        )
    }

    /// Drops the database, terminating any connection still open to it.
    public func drop() async throws {
        let admin = try await PostgresConnection.connect(try PostgresConfiguration(url: serverURL))
        try await admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)", name: "drop_test_database")
        await admin.close()
    }

    /// Opens a connection to this database.
    public func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration)
    }

    /// Runs `body` on a connection that is closed afterwards.
    @discardableResult
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await connect().closingAfter(body)
    }
}

/// The test environment is not what the tests need.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
