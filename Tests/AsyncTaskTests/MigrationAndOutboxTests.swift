import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient
import TestSupport
import Testing

/// A migrated database per test.
func withMigratedDatabase(_ body: (TestDatabase, PostgresConnection) async throws -> Void) async throws {
    try await TestDatabase.with { database throws in
        try await database.withConnection { connection throws in
            try await Migrator().migrate(on: connection)
            try await connection.execute(script: "CREATE TABLE orders (number bigint PRIMARY KEY, customer text NOT NULL)", name: "create_orders")
            try await body(database, connection)
        }
    }
}

struct FulfillArgs: Codable, Equatable {
    var customerToken: String
    var orderNumber: Int
}

let insertOrder = PostgresStatement(name: "insert_order", sql: "INSERT INTO orders (number, customer) VALUES ($1, $2)")
let countOrders = PostgresStatement(name: "count_orders", sql: "SELECT count(*) AS n FROM orders")
let countAttempts = PostgresStatement(name: "count_attempts", sql: "SELECT count(*) AS n FROM async_task_attempts")

@Suite("Schema and the outbox guarantee")
struct MigrationAndOutboxTests {
    @Test("migrate creates the schema; a second run applies nothing; status lists every migration applied")
    func migrateIsIdempotent() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let migrator = Migrator()
                #expect(try await migrator.status(on: connection).allSatisfy { $0.appliedAt == nil })
                let all = Schema.migrations.map(\.version)
                #expect(all.first == 1 && all == all.sorted() && Set(all).count == all.count)
                #expect(try await migrator.migrate(on: connection) == all)
                #expect(try await migrator.migrate(on: connection) == [])
                let status = try await migrator.status(on: connection)
                #expect(status.map(\.version) == all)
                #expect(status.allSatisfy { $0.appliedAt != nil })
                let tables = try await connection.query(
                    PostgresStatement(
                        name: "tables",
                        sql: """
                            SELECT array_agg(tablename::text ORDER BY tablename) AS t FROM pg_tables WHERE tablename LIKE 'async_task_%'
                            """)
                ).single().decode([String].self, "t")
                #expect(
                    tables.starts(with: ["async_task_attempts", "async_task_nodes", "async_task_schema_migrations"])
                        || Set(["async_task_attempts", "async_task_nodes", "async_task_schema_migrations"]).isSubset(of: tables))
                #expect(tables.contains("async_task_settings"))
                let indexes = try await connection.query(
                    PostgresStatement(
                        name: "indexes",
                        sql: """
                            SELECT indexdef FROM pg_indexes WHERE indexname = 'async_task_attempts_claim_idx'
                            """)
                ).single().decode(String.self, "indexdef")
                #expect(indexes.contains("(target, priority, available_at, id) WHERE (status = 'pending'::text)"))
            }
        }
    }

    @Test("a plain-SQL producer (DESIGN §2 contract) gets a correct, claimable row")
    func plainSQLContract() async throws {
        try await withMigratedDatabase { _, connection throws in
            try await connection.execute(
                script: """
                    INSERT INTO async_task_attempts (target, method_name, method_args, idempotence_token, scheduled_at)
                    VALUES ('OrderClient', 'fulfill', '{"customer_token":"c_1","order_number":7355608}', 'order-7355608', NULL);
                    INSERT INTO async_task_attempts (target, method_name, method_args, idempotence_token, scheduled_at)
                    VALUES ('OrderClient', 'fulfill', '{"order_number":1}', NULL, now() + interval '1 hour');
                    """, name: "plain_sql_producer")
            let rows = try await connection.query(
                PostgresStatement(
                    name: "claimable",
                    sql: """
                        SELECT id, status, num_attempts, locked_by IS NULL AS unlocked, available_at <= now() AS due,
                               available_at = scheduled_at AS follows_schedule, priority
                        FROM async_task_attempts ORDER BY id
                        """))
            #expect(rows.count == 2)
            #expect(try rows[0].decode(String.self, "status") == "pending")
            #expect(try rows[0].decode(Int.self, "num_attempts") == 0)
            #expect(try rows[0].decode(Bool.self, "unlocked"))
            #expect(try rows[0].decode(Bool.self, "due"))
            #expect(try rows[0].decode(Int.self, "priority") == 0)
            #expect(try rows[1].decode(Bool.self, "due") == false)
            #expect(try rows[1].decode(Bool.self, "follows_schedule"))
        }
    }

    @Test("CHECK constraints reject a bad status, an empty target and non-object args")
    func constraints() async throws {
        try await withMigratedDatabase { _, connection throws in
            for (name, sql) in [
                ("bad_status", "INSERT INTO async_task_attempts (target, method_name, status) VALUES ('T', 'm', 'running')"),
                ("empty_target", "INSERT INTO async_task_attempts (target, method_name) VALUES ('', 'm')"),
                ("array_args", "INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('T', 'm', '[1]')"),
            ] {
                let error = await #expect(throws: PostgresError.self) { try await connection.execute(script: sql, name: name) }
                #expect(error?.sqlState == .checkViolation, "\(name)")
            }
        }
    }

    @Test("outbox: commit keeps order and attempt; a thrown error rolls both back")
    func commitAndRollback() async throws {
        struct PaymentDeclined: Error {}
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            let id = try await connection.withTransaction { connection in
                try await connection.query(insertOrder, [1, "c_1"])
                return try await queue.enqueue(
                    Attempt(target: "OrderClient", method: "fulfill", arguments: FulfillArgs(customerToken: "c_1", orderNumber: 1)), on: connection)
            }
            #expect(id > 0)
            await #expect(throws: PaymentDeclined.self) {
                try await connection.withTransaction { connection in
                    try await connection.query(insertOrder, [2, "c_2"])
                    _ = try await queue.enqueue(
                        Attempt(target: "OrderClient", method: "fulfill", arguments: FulfillArgs(customerToken: "c_2", orderNumber: 2)),
                        on: connection)
                    throw PaymentDeclined()
                }
            }
            #expect(try await connection.query(countOrders).single().decode(Int.self, "n") == 1)
            #expect(try await connection.query(countAttempts).single().decode(Int.self, "n") == 1)
            let stored = try #require(try await AttemptActions().find(id, on: connection))
            #expect(stored.status == .pending)
            let args = try JSONDecoder().decode(FulfillArgs.self, from: Data(stored.methodArgs.utf8))
            #expect(args == FulfillArgs(customerToken: "c_1", orderNumber: 1))
        }
    }

    @Test("outbox: a task cancelled mid-transaction leaves neither order nor attempt")
    func cancellationRollsBack() async throws {
        try await withMigratedDatabase { database, _ throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 2))
            let inserted = AsyncStream<Void>.makeStream()
            let task = Task {
                try await pool.withTransaction { connection in
                    try await connection.query(insertOrder, [3, "c_3"])
                    _ = try await AttemptQueue().enqueue(
                        Attempt(target: "OrderClient", method: "fulfill", arguments: FulfillArgs(customerToken: "c_3", orderNumber: 3)),
                        on: connection)
                    inserted.continuation.yield()
                    // The application's next step is slow; the request is cancelled meanwhile.
                    try await Task.sleep(for: .seconds(30))
                }
            }
            for await _ in inserted.stream { break }
            task.cancel()
            _ = await task.result
            #expect(try await pool.query(countOrders).single().decode(Int.self, "n") == 0)
            #expect(try await pool.query(countAttempts).single().decode(Int.self, "n") == 0)
            await pool.close()
        }
    }

    @Test("an uncommitted attempt is invisible to other connections until commit")
    func invisibleUntilCommit() async throws {
        try await withMigratedDatabase { database, connection throws in
            try await database.withConnection { observer throws in
                try await connection.execute(script: "BEGIN", name: "begin")
                _ = try await AttemptQueue().enqueue(
                    Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data("{}".utf8)), on: connection)
                #expect(try await observer.query(countAttempts).single().decode(Int.self, "n") == 0)
                try await connection.execute(script: "COMMIT", name: "commit")
                #expect(try await observer.query(countAttempts).single().decode(Int.self, "n") == 1)
            }
        }
    }
}
