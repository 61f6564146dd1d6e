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
    @Option(
        help:
            "Seconds enqueued at the rate before the measured ones, reported apart (the node's first calls open their HTTP connections; the figures are of the steady state)."
    )
    var warmup = 1.0
    @Option(help: "The example target's call record (JSON lines).") var record: String
    @Option(help: "Concurrent producer connections.") var producers = 4
    @Option(
        help:
            "The nodes' node.lease (e.g. 60s): the claim time of a succeeded attempt is its available_at minus the lease, which splits the latency into commit → claim and claim → call."
    )
    var lease: String?
    @Option(
        help:
            "Also write each attempt's times to this file, one line each: id, commit, claim (with --lease) and call start, in seconds since the epoch: where the slow pickups fall in time."
    )
    var samples: String?

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
        guard warmup >= 0, warmup.isFinite else { throw ValidationError("--warmup: '\(warmup)' is not a number of seconds ≥ 0") }
        let warmupCount = Int(rate * warmup)
        let total = warmupCount + Int(rate * duration)
        // Every producer is connected before the clock starts: connecting inside the paced loop made the first
        // attempts late and then sent them in one burst, which measured the probe rather than the pickup.
        var connections: [PostgresConnection] = []
        for _ in 0..<producers { connections.append(try await PostgresConnection.connect(configuration)) }
        let start = ContinuousClock.now
        let wallStart = Date().timeIntervalSince1970
        let commits = try await withThrowingTaskGroup(of: [(id: Int64, at: Double, index: Int)].self) { group in
            for (producer, connection) in connections.enumerated() {
                group.addTask {
                    var committed: [(id: Int64, at: Double, index: Int)] = []
                    var index = producer
                    while index < total {
                        let due = start + .microseconds(Int64(Double(index) / rate * 1_000_000))
                        if due > ContinuousClock.now { try await Task.sleep(until: due) }
                        let attempt = try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"order_number":\#(index)}"#.utf8))
                        // One statement in its own transaction: the commit a producer's transaction ends with,
                        // without a BEGIN and a COMMIT round trip of the probe's own on the shared cores.
                        let id = try await AttemptQueue().enqueue(attempt, on: connection)
                        committed.append((id, Date().timeIntervalSince1970, index))
                        index += producers
                    }
                    await connection.close()
                    return committed
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let warmupIDs = Set(commits.filter { $0.index < warmupCount }.map(\.id))
        let allCommittedAt = Dictionary(commits.map { ($0.id, $0.at) }, uniquingKeysWith: { first, _ in first })
        // Wait for the calls to arrive.
        var latencies: [Double] = []
        var warmupLatencies: [Double] = []
        var callAt: [Int64: Double] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            latencies = []
            warmupLatencies = []
            callAt = [:]
            var seen = Set<Int64>()
            let text = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let id = (object["attempt_id"] as? NSNumber)?.int64Value, let at = (object["at"] as? NSNumber)?.doubleValue,
                    let commit = allCommittedAt[id], seen.insert(id).inserted
                else { continue }
                if warmupIDs.contains(id) {
                    warmupLatencies.append(max(0, at - commit) * 1000)
                } else {
                    latencies.append(max(0, at - commit) * 1000)
                }
                callAt[id] = at
            }
            if latencies.count + warmupLatencies.count >= allCommittedAt.count { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        latencies.sort()
        warmupLatencies.sort()
        func percentile(_ p: Double, of values: [Double]? = nil) -> Double {
            let values = values ?? latencies
            guard !values.isEmpty else { return .nan }
            return values[min(values.count - 1, Int(Double(values.count) * p))]
        }
        let achieved = Double(commits.count) / (Date().timeIntervalSince1970 - wallStart)
        if warmupCount > 0 {
            print(
                String(
                    format: "pickup_warmup seconds=%.1f samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f (not in the figures below)",
                    warmup, warmupLatencies.count, percentile(0.50, of: warmupLatencies), percentile(0.99, of: warmupLatencies),
                    warmupLatencies.last ?? .nan))
        }
        print(
            String(
                format: "pickup_latency rate=%.0f achieved_enqueue_rate=%.0f samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f",
                rate, min(achieved, rate), latencies.count, percentile(0.50), percentile(0.99), latencies.last ?? .nan))
        if let samples, lease == nil { try Self.writeSamples(to: samples, committed: allCommittedAt, claimed: [:], called: callAt) }
        if let lease {
            guard let leaseSeconds = DurationText.seconds(lease) else { throw ValidationError("--lease: '\(lease)' is not a duration (e.g. 60s)") }
            let connection = try await PostgresConnection.connect(configuration)
            let rows = try await connection.query(Self.claimTimes, [Array(allCommittedAt.keys)])
            var toClaim: [Double] = []
            var toCall: [Double] = []
            var claimedAt: [Int64: Double] = [:]
            for row in rows {
                let id = try row.decode(Int64.self, "id")
                guard let commit = allCommittedAt[id], let at = callAt[id] else { continue }
                let claimed = try row.decode(Double.self, "leased_until") - leaseSeconds
                claimedAt[id] = claimed
                if warmupIDs.contains(id) { continue }
                toClaim.append((claimed - commit) * 1000)
                toCall.append((at - claimed) * 1000)
            }
            if let samples { try Self.writeSamples(to: samples, committed: allCommittedAt, claimed: claimedAt, called: callAt) }
            await connection.close()
            toClaim.sort()
            toCall.sort()
            print(
                String(
                    format: "pickup_split commit_to_claim_p50_ms=%.2f p99_ms=%.2f claim_to_call_p50_ms=%.2f p99_ms=%.2f",
                    percentile(0.5, of: toClaim), percentile(0.99, of: toClaim), percentile(0.5, of: toCall), percentile(0.99, of: toCall)))
        }
    }

    /// One line per attempt in id order: `id commit claim call` (seconds since the epoch; `-` where unknown).
    static func writeSamples(to path: String, committed: [Int64: Double], claimed: [Int64: Double], called: [Int64: Double]) throws {
        func text(_ value: Double?) -> String { value.map { String(format: "%.6f", $0) } ?? "-" }
        var lines = "id commit claim call\n"
        for id in committed.keys.sorted() {
            lines += "\(id) \(text(committed[id])) \(text(claimed[id])) \(text(called[id]))\n"
        }
        do {
            try lines.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ValidationError("--samples: cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
