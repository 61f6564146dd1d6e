import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient

/// `asynctask bench enqueue`: transactional single enqueues per second with N producers, or batch rows per
/// second. Prints `key=value` lines; `scripts/bench-enqueue.sh` runs pgbench beside it on the same server.
struct BenchEnqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Measure transactional enqueue throughput (one attempt per transaction, or batches).")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Concurrent producers, each on its own connection.")
    var producers: Int = 1

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(name: .customLong("batch-size"), help: "Attempts per transaction; 1 measures single enqueues.")
    var batchSize: Int = 1

    func validate() throws {
        guard producers >= 1, producers <= 256 else { throw ValidationError("--producers must be 1…256") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard batchSize >= 1, batchSize <= 100_000 else { throw ValidationError("--batch-size must be 1…100000") }
    }

    func run() async throws {
        let (url, _) = try await database.resolveURL()
        let configuration = try PostgresConfiguration(url: url, applicationName: "asynctask-bench")
        var connections: [PostgresConnection] = []
        for _ in 0..<producers { connections.append(try await PostgresConnection.connect(configuration)) }
        let batch = try (0..<batchSize).map { index in
            try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"customer_token":"c_1","order_number":\#(index)}"#.utf8))
        }
        let single = batch[0]
        let queue = AttemptQueue()
        let deadline = ContinuousClock.now + .milliseconds(Int(duration * 1000))
        let start = ContinuousClock.now
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for connection in connections {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < deadline {
                        if batchSize == 1 {
                            _ = try await connection.withTransaction { try await queue.enqueue(single, on: $0) }
                        } else {
                            _ = try await connection.withTransaction { try await queue.enqueue(batch, on: $0) }
                        }
                        done += batchSize
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.seconds
        for connection in connections { await connection.close() }
        let rate = Int(Double(counts) / seconds)
        if batchSize == 1 {
            print("asynctask_enqueue_tx_per_s producers=\(producers) value=\(rate)")
        } else {
            print("asynctask_batch_enqueue_rows_per_s batch=\(batchSize) producers=\(producers) value=\(rate)")
        }
    }
}
