import AsyncTask
import Foundation
import PostgresClient
import TestSupport

/// The application side of a chaos run: creates orders, each with its `OrderClient.fulfill` attempt in the
/// same transaction, and rolls about a fifth of them back (payment declined), through every fault of the run.
///
/// Every 31st order names an unknown customer (`"_status": 404` to the example target), so some attempts fail
/// permanently and produce `attempt.failed` events. A transaction cut off by a PostgreSQL restart is in doubt:
/// the checker reads the orders table to learn whether it committed.
struct ChaosProducer: Sendable {
    /// What the producer did; which orders exist is for the database to say.
    struct Result: Sendable {
        /// Every order number used.
        var numbers: [Int64] = []
        /// Orders whose transaction the producer rolled back itself.
        var rolledBack: Set<Int64> = []
        /// Orders whose transaction ended with an error (cut off by a restart): committed or not.
        var inDoubt: Set<Int64> = []
    }

    static let createOrders = """
        CREATE TABLE chaos_orders (
            number bigint PRIMARY KEY, attempt_id bigint NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT clock_timestamp())
        """
    static let insertOrder = PostgresStatement(name: "chaos_insert_order", sql: "INSERT INTO chaos_orders (number, attempt_id) VALUES ($1, $2)")

    let configuration: PostgresConfiguration
    /// Orders per second.
    let rate: Double
    let rollbackRate: Double

    /// Produces orders until `duration` has passed.
    func run(for duration: Duration, seed: UInt64) async -> Result {
        var random = SeededRandom(seed: seed)
        struct PaymentDeclined: Error {}
        let pool = PostgresConnectionPool(configuration: configuration, options: .init(maxConnections: 2, acquireTimeout: .seconds(2)))
        var result = Result()
        let start = ContinuousClock.now
        let end = start + duration
        var number: Int64 = 0
        while ContinuousClock.now < end {
            number += 1
            let order = number
            result.numbers.append(order)
            let declined = Double.random(in: 0..<1, using: &random) < rollbackRate
            var arguments = #"{"order_number":\#(order),"customer_token":"c_\#(order % 97)""#
            if order % 31 == 0 { arguments += #","_status":404"# }
            arguments += "}"
            do {
                let attempt = try Attempt(
                    target: "OrderClient", method: "fulfill", argumentsJSON: Data(arguments.utf8), idempotenceToken: "order-\(order)")
                try await pool.withTransaction { connection in
                    let id = try await AttemptQueue().enqueue(attempt, on: connection)
                    try await connection.query(Self.insertOrder, [order, id])
                    if declined { throw PaymentDeclined() }
                }
            } catch is PaymentDeclined {
                result.rolledBack.insert(order)
            } catch {
                result.inDoubt.insert(order)
                try? await Task.sleep(for: .milliseconds(100))
            }
            let due = start + .milliseconds(Int(Double(order) / rate * 1000))
            if due > ContinuousClock.now { try? await Task.sleep(until: due) }
        }
        await pool.close()
        return result
    }
}
