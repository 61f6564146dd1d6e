import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient

/// `asynctask dev …`: the pieces of the local demo cluster (`make run`).
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Local demo helpers used by `make run`.",
        subcommands: [Produce.self])

    /// The seed's example: an application that creates orders and, in the same transaction, enqueues
    /// `OrderClient.fulfill`; some transactions roll back (payment declined), and their attempts must never run.
    struct Produce: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create orders with OrderClient.fulfill attempts, rolling some back; show progress and a summary.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "Orders to create.") var orders = 2000
        @Option(name: .customLong("rollback-rate"), help: "Fraction of order transactions that roll back.") var rollbackRate = 0.2
        @Option(help: "Orders per second.") var rate = 200.0
        @Option(help: "The example target's call record (JSON lines), to prove rolled-back orders were never called.") var record: String?
        @Option(name: .customLong("wait"), help: "Seconds to wait for the cluster to finish after producing.") var waitSeconds = 120.0

        static let createOrders = """
            CREATE TABLE IF NOT EXISTS demo_orders (
                number bigint PRIMARY KEY, customer_token text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
            """
        static let insertOrder = PostgresStatement(name: "demo_insert_order", sql: "INSERT INTO demo_orders (number, customer_token) VALUES ($1, $2)")
        static let nextNumber = PostgresStatement(name: "demo_next_order", sql: "SELECT coalesce(max(number), 0) + 1 AS next FROM demo_orders")
        static let statusCounts = PostgresStatement(
            name: "demo_status_counts",
            sql: """
                SELECT status, count(*) AS n FROM async_task_attempts WHERE target = 'OrderClient' AND method_name = 'fulfill' GROUP BY status
                """)
        static let attemptsForTokens = PostgresStatement(
            name: "demo_attempts_for_tokens",
            sql: """
                SELECT count(*) AS n FROM async_task_attempts
                WHERE target = 'OrderClient' AND method_name = 'fulfill' AND idempotence_token = ANY($1)
                """)
        static let perNode = PostgresStatement(
            name: "demo_per_node",
            sql: """
                SELECT hostname || ' pid ' || pid AS node, status, counters::text AS counters FROM async_task_nodes ORDER BY started_at
                """)

        func validate() throws {
            guard orders > 0 else { throw ValidationError("--orders must be positive") }
            guard (0...1).contains(rollbackRate) else { throw ValidationError("--rollback-rate must be between 0 and 1") }
            guard rate > 0 else { throw ValidationError("--rate must be positive") }
        }

        func run() async throws {
            struct PaymentDeclined: Error {}
            try await database.withConnection { connection in
                try await connection.execute(script: Self.createOrders, name: "demo_create_orders")
                var number = try await connection.query(Self.nextNumber).single().decode(Int64.self, "next")
                var committed: [Int64] = []
                var rolledBack: [Int64] = []
                let start = ContinuousClock.now
                var lastProgress = ContinuousClock.now - .seconds(1)
                for index in 0..<orders {
                    let order = number
                    number += 1
                    let customer = "c_\(Int.random(in: 1...500))"
                    do {
                        try await connection.withTransaction { connection in
                            try await connection.query(Self.insertOrder, [order, customer])
                            let attempt = try Attempt(
                                target: "OrderClient", method: "fulfill",
                                argumentsJSON: Data(#"{"customer_token":"\#(customer)","order_number":\#(order)}"#.utf8),
                                idempotenceToken: "order-\(order)")
                            _ = try await AttemptQueue().enqueue(attempt, on: connection)
                            if Double.random(in: 0..<1) < rollbackRate { throw PaymentDeclined() }
                        }
                        committed.append(order)
                    } catch is PaymentDeclined {
                        rolledBack.append(order)
                    }
                    // Pace to --rate.
                    let due = start + .milliseconds(Int(Double(index + 1) / rate * 1000))
                    if due > ContinuousClock.now { try await Task.sleep(until: due) }
                    if ContinuousClock.now - lastProgress >= .milliseconds(500) {
                        lastProgress = ContinuousClock.now
                        try await progress(connection, committed: committed.count, rolledBack: rolledBack.count)
                    }
                }
                let deadline = ContinuousClock.now + .milliseconds(Int(waitSeconds * 1000))
                while ContinuousClock.now < deadline {
                    let counts = try await counts(connection)
                    try await progress(connection, committed: committed.count, rolledBack: rolledBack.count)
                    if (counts[AttemptStatus.pending.rawValue] ?? 0) == 0 { break }
                    try await Task.sleep(for: .milliseconds(500))
                }
                print("")
                try await summary(connection, committed: committed, rolledBack: rolledBack)
            }
        }

        private func counts(_ connection: PostgresConnection) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try await connection.query(Self.statusCounts) { counts[try row.decode(String.self, "status")] = try row.decode(Int.self, "n") }
            return counts
        }

        private func progress(_ connection: PostgresConnection, committed: Int, rolledBack: Int) async throws {
            let counts = try await counts(connection)
            let line =
                "orders committed \(committed), rolled back \(rolledBack) | attempts "
                + [AttemptStatus.pending, .succeeded, .failed].map { "\($0.rawValue) \(counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")
            FileHandle.standardOutput.write(Data("\r\(line)   ".utf8))
        }

        private func summary(_ connection: PostgresConnection, committed: [Int64], rolledBack: [Int64]) async throws {
            let counts = try await counts(connection)
            print("Summary")
            print("  orders committed: \(committed.count), rolled back: \(rolledBack.count)")
            print("  attempts: " + AttemptStatus.allCases.map { "\($0.rawValue) \(counts[$0.rawValue] ?? 0)" }.joined(separator: ", "))
            let leaked = try await connection.query(Self.attemptsForTokens, [rolledBack.map { "order-\($0)" }]).single().decode(Int.self, "n")
            print("  attempts stored for rolled-back orders: \(leaked) (must be 0)")
            print("  per node:")
            for row in try await connection.query(Self.perNode) {
                print(
                    "    \(try row.decode(String.self, "node")) [\(try row.decode(String.self, "status"))] \(try row.decode(String.self, "counters"))"
                )
            }
            if let record, let text = try? String(contentsOfFile: record, encoding: .utf8) {
                let called = Set(
                    text.split(separator: "\n").compactMap { line -> Int64? in
                        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                        return (object["order_number"] as? NSNumber)?.int64Value
                    })
                let wronglyCalled = rolledBack.filter(called.contains)
                print("  rolled-back orders the target was called for: \(wronglyCalled.count) (must be 0)")
                print("  committed orders the target was called for: \(committed.filter(called.contains).count) of \(committed.count)")
            }
        }
    }
}
