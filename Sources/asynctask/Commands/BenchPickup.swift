import ArgumentParser
import AsyncTask
import Foundation
import PostgresClient

/// `asynctask bench pickup`: pickup latency (enqueue commit → call start at the target) at a steady enqueue
/// rate. Needs a running cluster whose target is `asynctask example-target --record FILE`.
struct BenchPickup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pickup",
        abstract: "Measure pickup latency (commit → call start) at a steady rate against a running cluster.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Attempts per second, one per transaction.") var rate = 1000.0
    @Option(help: "Seconds to enqueue.") var duration = 10.0
    @Option(help: "The example target's call record (JSON lines).") var record: String
    @Option(help: "Concurrent producer connections.") var producers = 4
    @Option(
        help:
            "The nodes' node.lease (e.g. 60s): the claim time of a succeeded attempt is its available_at minus the lease, which splits the latency into commit → claim and claim → call."
    )
    var lease: String?

    // A succeeded attempt keeps the available_at its claim set (now() + lease), so the claim's time is recoverable.
    static let claimTimes = PostgresStatement(
        name: "bench_claim_times",
        sql: """
            SELECT id, extract(epoch FROM available_at)::float8 AS leased_until FROM async_task_attempts
            WHERE id = ANY($1) AND status = 'succeeded'
            """, isPrepared: false)

    func run() async throws {
        let (url, _) = try await database.resolveURL()
        let configuration = try PostgresConfiguration(url: url, applicationName: "asynctask-bench")
        let total = Int(rate * duration)
        let start = ContinuousClock.now
        let wallStart = Date().timeIntervalSince1970
        let commits = try await withThrowingTaskGroup(of: [(Int64, Double)].self) { group in
            for producer in 0..<producers {
                group.addTask {
                    let connection = try await PostgresConnection.connect(configuration)
                    var committed: [(Int64, Double)] = []
                    var index = producer
                    while index < total {
                        let due = start + .microseconds(Int64(Double(index) / rate * 1_000_000))
                        if due > ContinuousClock.now { try await Task.sleep(until: due) }
                        let attempt = try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"order_number":\#(index)}"#.utf8))
                        let id = try await connection.withTransaction { try await AttemptQueue().enqueue(attempt, on: $0) }
                        committed.append((id, Date().timeIntervalSince1970))
                        index += producers
                    }
                    await connection.close()
                    return committed
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let committedAt = Dictionary(commits, uniquingKeysWith: { first, _ in first })
        // Wait for the calls to arrive.
        var latencies: [Double] = []
        var callAt: [Int64: Double] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            latencies = []
            callAt = [:]
            var seen = Set<Int64>()
            let text = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let id = (object["attempt_id"] as? NSNumber)?.int64Value, let at = (object["at"] as? NSNumber)?.doubleValue,
                    let commit = committedAt[id], seen.insert(id).inserted
                else { continue }
                latencies.append(max(0, at - commit) * 1000)
                callAt[id] = at
            }
            if latencies.count >= committedAt.count { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        latencies.sort()
        func percentile(_ p: Double, of values: [Double]? = nil) -> Double {
            let values = values ?? latencies
            guard !values.isEmpty else { return .nan }
            return values[min(values.count - 1, Int(Double(values.count) * p))]
        }
        let achieved = Double(commits.count) / (Date().timeIntervalSince1970 - wallStart)
        print(
            String(
                format: "pickup_latency rate=%.0f achieved_enqueue_rate=%.0f samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f",
                rate, min(achieved, rate), latencies.count, percentile(0.50), percentile(0.99), latencies.last ?? .nan))
        if let lease {
            guard let leaseSeconds = DurationText.seconds(lease) else { throw ValidationError("--lease: '\(lease)' is not a duration (e.g. 60s)") }
            let connection = try await PostgresConnection.connect(configuration)
            let rows = try await connection.query(Self.claimTimes, [Array(committedAt.keys)])
            var toClaim: [Double] = []
            var toCall: [Double] = []
            for row in rows {
                let id = try row.decode(Int64.self, "id")
                guard let commit = committedAt[id], let at = callAt[id] else { continue }
                let claimed = try row.decode(Double.self, "leased_until") - leaseSeconds
                toClaim.append((claimed - commit) * 1000)
                toCall.append((at - claimed) * 1000)
            }
            await connection.close()
            toClaim.sort()
            toCall.sort()
            print(
                String(
                    format: "pickup_split commit_to_claim_p50_ms=%.2f p99_ms=%.2f claim_to_call_p50_ms=%.2f p99_ms=%.2f",
                    percentile(0.5, of: toClaim), percentile(0.99, of: toClaim), percentile(0.5, of: toCall), percentile(0.99, of: toCall)))
        }
    }
}
