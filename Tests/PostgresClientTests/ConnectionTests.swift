import Foundation
import PostgresClient
import Synchronization
import TestSupport
import Testing

@Suite("Connections, transactions, errors and cancellation")
struct ConnectionTests {
    static let createTable = "CREATE TABLE items (id bigint PRIMARY KEY, label text NOT NULL)"
    static let insert = PostgresStatement(name: "insert_item", sql: "INSERT INTO items (id, label) VALUES ($1, $2)")
    static let count = PostgresStatement(name: "count_items", sql: "SELECT count(*) AS n FROM items")

    @Test("withTransaction commits on return, rolls back on throw, and nests with savepoints")
    func transactions() async throws {
        struct Boom: Error {}
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                _ = try await connection.withTransaction { try await $0.query(Self.insert, [1, "committed"]) }
                await #expect(throws: Boom.self) {
                    try await connection.withTransaction { connection in
                        try await connection.query(Self.insert, [2, "rolled back"])
                        throw Boom()
                    }
                }
                try await connection.withTransaction { outer in
                    try await outer.query(Self.insert, [3, "outer"])
                    try? await outer.withTransaction { inner in
                        try await inner.query(Self.insert, [4, "inner, rolled back"])
                        throw Boom()
                    }
                    try await outer.withTransaction { inner in try await inner.query(Self.insert, [5, "inner, kept"]) }
                }
                let ids = try await connection.query(PostgresStatement(name: "ids", sql: "SELECT array_agg(id ORDER BY id) AS ids FROM items"))
                    .single().decode([Int64].self, "ids")
                #expect(ids == [1, 3, 5])
                #expect(!connection.isInTransaction)
            }
        }
    }

    @Test("closingAfter closes the connection when the body returns and when it throws")
    func closingAfter() async throws {
        struct Boom: Error {}
        let ping = PostgresStatement(name: "ping", sql: "SELECT 1 AS one")
        try await TestDatabase.with { database throws in
            let returned = try await database.connect()
            let one = try await returned.closingAfter { try await $0.query(ping).single().decode(Int.self, "one") }
            #expect(one == 1)
            await #expect(throws: PostgresError.self) { try await returned.query(ping) }
            let thrown = try await database.connect()
            await #expect(throws: Boom.self) { try await thrown.closingAfter { _ in throw Boom() } }
            await #expect(throws: PostgresError.self) { try await thrown.query(ping) }
        }
    }

    @Test("a body that swallows a server error cannot commit the aborted transaction silently")
    func swallowedErrorIsReported() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                let error = await #expect(throws: PostgresError.self) {
                    try await connection.withTransaction { connection in
                        try await connection.query(Self.insert, [1, "a"])
                        _ = try? await connection.query(Self.insert, [1, "duplicate"])
                    }
                }
                #expect(error?.sqlState == .inFailedTransaction)
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
            }
        }
    }

    @Test("SQLSTATEs map: unique violation with constraint, serialization failure; no values in description")
    func sqlStates() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                try await connection.query(Self.insert, [1, "first"])
                let unique = await #expect(throws: PostgresError.self) { try await connection.query(Self.insert, [1, "secret-value"]) }
                #expect(unique?.sqlState == .uniqueViolation)
                #expect(unique?.constraintName == "items_pkey")
                #expect(unique?.queryName == "insert_item")
                #expect(unique?.description.contains("insert_item") == true)
                #expect(unique?.description.contains("secret-value") == false)
                #expect(unique?.debugDescription.contains("Key (id)=(1)") == true)
            }
            // Two serializable transactions that each read what the other writes: one must fail with 40001.
            let first = try await database.connect()
            let second = try await database.connect()
            let read = PostgresStatement(name: "read_all", sql: "SELECT count(*) AS n FROM items")
            try await first.execute(script: "BEGIN ISOLATION LEVEL SERIALIZABLE", name: "begin")
            try await second.execute(script: "BEGIN ISOLATION LEVEL SERIALIZABLE", name: "begin")
            try await first.query(read)
            try await second.query(read)
            try await first.query(Self.insert, [10, "a"])
            try await second.query(Self.insert, [11, "b"])
            try await first.execute(script: "COMMIT", name: "commit")
            let conflict = await #expect(throws: PostgresError.self) { try await second.execute(script: "COMMIT", name: "commit") }
            #expect(conflict?.sqlState == .serializationFailure)
            await first.close()
            await second.close()
        }
    }

    @Test("a cancelled task cancels its running query on the server, and the connection stays usable")
    func cancellation() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let sleep = PostgresStatement(name: "sleep", sql: "SELECT pg_sleep(30)")
                let started = ContinuousClock.now
                let task = Task { try await connection.query(sleep) }
                try await Task.sleep(for: .milliseconds(300))
                task.cancel()
                let result = await task.result
                let elapsed = ContinuousClock.now - started
                guard case .failure(let error as PostgresError) = result else {
                    Issue.record("expected a PostgresError, got \(result)")
                    return
                }
                #expect(error.code == .cancelled)
                #expect(error.queryName == "sleep")
                #expect(elapsed < .seconds(5))
                #expect(try await connection.query(PostgresStatement(name: "one", sql: "SELECT 1 AS one")).single().decode(Int.self, "one") == 1)
            }
        }
    }

    @Test("blocking libpq calls leave Swift's cooperative pool free")
    func blockingCallsOffCooperativePool() async throws {
        try await TestDatabase.with { database throws in
            var connections: [PostgresConnection] = []
            // More concurrent blocking queries than the cooperative pool has threads (one per core).
            let count = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
            for _ in 0..<count { connections.append(try await database.connect()) }
            let sleep = PostgresStatement(name: "sleep", sql: "SELECT pg_sleep(2)")
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in connections { group.addTask { try await connection.query(sleep) } }
                // While they block, a cooperative task must still get scheduled promptly: were the queries blocking
                // the pool's threads, the probe would wait until they end (≈ 1.8 s more).
                try await Task.sleep(for: .milliseconds(200))
                let probe = ContinuousClock.now
                await Task.yield()
                try await Task.sleep(for: .milliseconds(10))
                #expect(ContinuousClock.now - probe < .milliseconds(900))
                try await group.waitForAll()
            }
            #expect(ContinuousClock.now - started < .milliseconds(3800))
            for connection in connections { await connection.close() }
        }
    }

    @Test("configuration: URLs parse, descriptions and errors never show the password")
    func configurationRedaction() throws {
        let configuration = try PostgresConfiguration(url: "postgresql://alice:s3cret@db.internal:6543/app?sslmode=verify-full&sslrootcert=/ca.pem")
        #expect(configuration.value(of: "sslmode") == "verify-full")
        #expect(configuration.value(of: "sslrootcert") == "/ca.pem")
        #expect(configuration.value(of: "password") == "s3cret")
        #expect(configuration.description == "postgresql://alice@db.internal:6543/app")
        #expect(PostgresConfiguration.redact("postgresql://alice:s3cret@db/app?password=other") == "postgresql://alice:***@db/app?password=***")
        let error = #expect(throws: PostgresError.self) { try PostgresConfiguration(url: "postgresql://alice:s3cret@db:notaport/app?bogus_key=1") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains("s3cret") == false)
        // An unencoded '@' in the password would make libpq take its tail for the host and show it in errors.
        let unencoded = #expect(throws: PostgresError.self) { try PostgresConfiguration(url: "postgresql://alice:p@ssw0rd@db:5432/app") }
        #expect(unencoded?.code == .invalidConfiguration)
        #expect(unencoded?.description.contains("%40") == true)
        #expect(unencoded?.description.contains("ssw0rd") == false, "\(unencoded?.description ?? "")")
        #expect(try PostgresConfiguration(url: "postgresql://alice:p%40ssw0rd@db:5432/app").value(of: "password") == "p@ssw0rd")
    }

    @Test("setSessionDefault: every session gets the setting, unless the URL's options already set it; other options stay")
    func sessionDefaults() async throws {
        try await TestDatabase.with { database throws in
            func setting(_ name: String, url: String) async throws -> String {
                var configuration = try PostgresConfiguration(url: url)
                configuration.setSessionDefault("jit", "off")
                let connection = try await PostgresConnection.connect(configuration)
                defer { Task { await connection.close() } }
                return try await connection.query(PostgresStatement(name: "show", sql: "SELECT current_setting($1) AS value"), [name])
                    .single().decode(String.self, "value")
            }
            let separator = database.url.contains("?") ? "&" : "?"
            #expect(try await setting("jit", url: database.url) == "off")
            #expect(try await setting("jit", url: database.url + separator + "options=-c%20jit%3Don") == "on")
            let both = database.url + separator + "options=-c%20statement_timeout%3D1234"
            #expect(try await setting("jit", url: both) == "off")
            #expect(try await setting("statement_timeout", url: both) == "1234ms")
        }
    }

    @Test("a failed connection is one line naming the server, without the password")
    func connectionFailure() async throws {
        let configuration = try PostgresConfiguration(url: "postgresql://alice:s3cret@127.0.0.1:1/app")
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(configuration) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("127.0.0.1:1") == true)
        #expect(error?.description.contains("s3cret") == false)
        #expect(error?.description.contains("\n") == false)
    }
}
