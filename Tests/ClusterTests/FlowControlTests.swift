import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fairness per key (`key_concurrency` with `concurrency_key`) and the cluster's circuit breaker per target, with
/// real worker processes and a target that records when every call starts and ends.
@Suite("Flow control: key_concurrency and the shared circuit breaker", .serialized)
struct FlowControlTests {
    /// The most calls in flight at once per key, from the target's record of starts and ends.
    static func peakPerKey(calls: [(id: Int64, number: Int, at: Double)], ends: [Cluster.CallKey: Double], keyOf: [Int64: String])
        -> [String: Int]
    {
        var events: [String: [(at: Double, delta: Int)]] = [:]
        for call in calls {
            guard let key = keyOf[call.id], let end = ends[Cluster.CallKey(id: call.id, number: call.number)] else { continue }
            events[key, default: []] += [(call.at, 1), (end, -1)]
        }
        return events.mapValues { list in
            // Ends before starts at the same instant: a call that ends as the next starts is not an overlap.
            var current = 0
            var peak = 0
            for event in list.sorted(by: { ($0.at, $0.delta) < ($1.at, $1.delta) }) {
                current += event.delta
                peak = max(peak, current)
            }
            return peak
        }
    }

    @Test(
        "key_concurrency 2, 2 nodes of concurrency 16, 3 hot keys × 120 enqueued first and 100 cold keys × 2: no key ever over 2 calls at once, every cold attempt done before half the hot ones"
    )
    func keyConcurrency() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "40", "--record-ends"]) { cluster in
            let hot = try await cluster.enqueue(360, concurrencyKey: { "hot-\($0 % 3)" })
            let cold = try await cluster.enqueue(200, concurrencyKey: { "cold-\($0 % 100)" })
            let unkeyed = try await cluster.enqueue(20)
            var keyOf: [Int64: String] = [:]
            for (n, id) in hot.enumerated() { keyOf[id] = "hot-\(n % 3)" }
            for (n, id) in cold.enumerated() { keyOf[id] = "cold-\(n % 100)" }
            for _ in 0..<2 { try cluster.startWorker(target: ["concurrency: 16", "key_concurrency: 2"]) }
            try await eventually("every attempt succeeds", timeout: .seconds(120), every: .milliseconds(100)) {
                try await cluster.statusCounts()["succeeded"] == hot.count + cold.count + unkeyed.count
            }
            let calls = try cluster.recordedCalls()
            let ends = try cluster.recordedEnds()
            let peaks = Self.peakPerKey(calls: calls, ends: ends, keyOf: keyOf)
            let over = peaks.filter { $0.value > 2 }
            #expect(over.isEmpty, "keys over 2 calls at once: \(over.sorted { $0.key < $1.key }.prefix(5))")
            #expect(
                peaks.filter { $0.key.hasPrefix("hot") }.values.max() == 2,
                "the hot keys used their 2 slots: \(peaks.filter { $0.key.hasPrefix("hot") })")

            let hotIDs = Set(hot)
            let coldIDs = Set(cold)
            let hotEnds = calls.filter { hotIDs.contains($0.id) }.compactMap { ends[Cluster.CallKey(id: $0.id, number: $0.number)] }.sorted()
            let lastCold = calls.filter { coldIDs.contains($0.id) }.compactMap { ends[Cluster.CallKey(id: $0.id, number: $0.number)] }.max() ?? 0
            let hotDone = hotEnds.filter { $0 <= lastCold }.count
            #expect(hotDone < hot.count / 2, "\(hotDone) of \(hot.count) hot attempts were done when the last cold one ended")
            let hotSpan = (hotEnds.last ?? 0) - (calls.filter { hotIDs.contains($0.id) }.map(\.at).min() ?? 0)
            print(
                "key_concurrency 2: peak per hot key \(peaks.filter { $0.key.hasPrefix("hot") }.values.max() ?? 0), cold keys done after \(hotDone) of \(hot.count) hot attempts, hot drain \(String(format: "%.2f", hotSpan)) s (ideal at 2 per key × 40 ms: \(String(format: "%.2f", Double(hot.count) / 6 * 0.04)) s)"
            )
        }
    }

    /// A webhook receiver (the example target's POST /webhook) of its own, so the faults of the target do not
    /// reach it.
    private func startReceiver(_ cluster: Cluster, record: URL) async throws -> (process: ManagedProcess, url: String) {
        let receiver = try ManagedProcess(
            name: "receiver", arguments: ["example-target", "--port", "0", "--webhook-record", record.path], directory: cluster.directory)
        let output = try await receiver.waitForOutput("listening on ")
        let line = try #require(output.split(separator: "\n").first { $0.contains("listening on ") })
        let base = String(line.split(separator: " ").last ?? "").replacingOccurrences(of: "/rpc", with: "")
        return (receiver, base + "/webhook")
    }

    private func post(_ url: String, _ body: String) async throws {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "POST \(url) \(body)")
    }

    /// The circuit's row: state, when it changed and when it lets probes through (Unix seconds), times opened.
    private func circuit(_ cluster: Cluster) async throws -> (state: String, changedAt: Double, retryAt: Double, opened: Int)? {
        guard
            let row = try await cluster.pool.query(
                PostgresStatement(
                    name: "circuit_row",
                    sql: """
                        SELECT circuit_state, extract(epoch FROM circuit_changed_at)::float8 AS changed_at,
                               extract(epoch FROM circuit_retry_at)::float8 AS retry_at, circuit_opened
                        FROM async_task_targets WHERE target = 'OrderClient'
                        """)
            ).first
        else { return nil }
        return (
            try row.decode(String.self, "circuit_state"), try row.decode(Double?.self, "changed_at") ?? 0,
            try row.decode(Double?.self, "retry_at") ?? 0, try row.decode(Int.self, "circuit_opened")
        )
    }

    @Test(
        "circuit { failures: 8, cooldown: 3s, probes: 2 }, 2 nodes, target down: it opens, no call starts while open and no try is spent; failed probes reopen it; target back: it closes, everything succeeds, both events reach the webhook"
    )
    func circuitBreaker() async throws {
        try await Cluster.with(targetArguments: ["--control", "--record-ends"]) { cluster in
            let control = cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/_control")
            let record = cluster.directory.appendingPathComponent("circuit-webhooks.jsonl")
            let (receiver, webhookURL) = try await startReceiver(cluster, record: record)
            defer { receiver.send(SIGKILL) }
            try await post(control, #"{"fault":"unavailable","seconds":600}"#)
            let ids = try await cluster.enqueue(200, maxAttempts: 1000)
            let webhook = [
                "webhook: { url: \"\(webhookURL)\", secret: circuit-secret-0123456789, events: [target.circuit_opened, target.circuit_closed] }"
            ]
            for _ in 0..<2 {
                try cluster.startWorker(
                    target: ["concurrency: 8", "circuit: { failures: 8, window: 30s, cooldown: 3s, probes: 2 }"], extra: webhook)
            }

            var opened: (state: String, changedAt: Double, retryAt: Double, opened: Int)?
            try await eventually("the circuit opens", timeout: .seconds(60), every: .milliseconds(20)) {
                opened = try await circuit(cluster)
                return opened?.state == "open"
            }
            let first = try #require(opened)
            // The listing while open (or already probing, on a loaded machine).
            let list = try await CommandRunner().run(["targets", "list", "--json", "--database-url", cluster.database.url])
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], "\(list.stdout)")
            let row = listed.first { $0["name"] as? String == "OrderClient" }
            #expect(
                ["open", "half_open"].contains(row?["circuit_state"] as? String ?? "")
                    && ((row?["circuit_times_opened"] as? NSNumber)?.intValue ?? 0) >= 1, "\(list.stdout)")
            let table = try await CommandRunner().run(["targets", "list", "--database-url", cluster.database.url])
            #expect(table.stdout.contains("circuit "), "\(table.stdout)")

            // The probes fail (the target is still down): open again.
            try await eventually("failed probes open it again", timeout: .seconds(60), every: .milliseconds(50)) {
                try await circuit(cluster)?.opened ?? 0 >= 2
            }
            // The target comes back: the next probes close it and every attempt succeeds.
            try await post(control, #"{"fault":"none"}"#)
            try await eventually("the circuit closes", timeout: .seconds(60), every: .milliseconds(50)) {
                try await circuit(cluster)?.state == "closed"
            }
            try await eventually("every attempt succeeds", timeout: .seconds(90), every: .milliseconds(100)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE target = 'OrderClient' AND status = 'succeeded'")
                    == ids.count
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE target = 'OrderClient' AND status = 'failed'") == 0)

            // Every opening, from its webhook event: when it opened and when it let probes through.
            var openings: [(times: Int, at: Double, retryAt: Double)] = []
            try await eventually("the events reach the webhook", timeout: .seconds(60), every: .milliseconds(100)) {
                let text = (try? String(contentsOf: record, encoding: .utf8)) ?? ""
                var closed = false
                openings = []
                let format = ISO8601DateFormatter()
                format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                for line in text.split(separator: "\n") {
                    guard let delivery = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        let body = delivery["body"] as? String,
                        let event = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                        let target = event["target"] as? [String: Any], target["name"] as? String == "OrderClient"
                    else { continue }
                    if event["event"] as? String == "target.circuit_closed" { closed = true }
                    guard event["event"] as? String == "target.circuit_opened", let times = (target["times_opened"] as? NSNumber)?.intValue,
                        let at = (event["occurred_at"] as? String).flatMap({ format.date(from: $0) }),
                        let retryAt = (target["retry_at"] as? String).flatMap({ format.date(from: $0) })
                    else { continue }
                    openings.append((times, at.timeIntervalSince1970, retryAt.timeIntervalSince1970))
                }
                openings.sort { $0.times < $1.times }
                let timesOpened = try await circuit(cluster)?.opened ?? -1
                return closed && openings.count == timesOpened
            }
            #expect(openings.count >= 2, "\(openings)")
            // While open (a second's margin for calls claimed just before): no call starts and no try is spent;
            // between the end of a cooldown and the next opening only the probes run.
            let calls = try cluster.recordedCalls()
            for (index, opening) in openings.enumerated() {
                let during = calls.filter { $0.at > opening.at + 1.0 && $0.at < opening.retryAt - 0.05 }
                #expect(during.isEmpty, "opening \(opening.times): \(during.count) calls started while open")
                let tried = try await cluster.scalar(
                    """
                    SELECT count(*)::int FROM async_task_attempts a, jsonb_array_elements(coalesce(a.tries, '[]')) t
                    WHERE a.target = 'OrderClient'
                      AND (t ->> 'started_at')::timestamptz > to_timestamp($1) AND (t ->> 'started_at')::timestamptz < to_timestamp($2)
                    """, [opening.at + 1.0, opening.retryAt - 0.05])
                #expect(tried == 0, "opening \(opening.times): \(tried) tries started while open")
                if index + 1 < openings.count {
                    let probes = calls.filter { $0.at >= opening.retryAt - 0.05 && $0.at < openings[index + 1].at }.count
                    #expect(probes >= 1 && probes <= 2, "after opening \(opening.times): \(probes) probe calls (probes: 2)")
                }
            }
            let atFirstOpen = calls.filter { $0.at <= first.changedAt }.count
            print(
                "circuit: opened after \(atFirstOpen) calls (threshold 8, 16 slots), opened \(openings.count) times, no call and no try while open (\(String(format: "%.1f", first.retryAt - first.changedAt)) s each), \(calls.count) calls in all for \(ids.count) attempts"
            )
        }
    }

    @Test(
        "bad input: key_concurrency 0 and circuit values in the file, --key-concurrency 0, a concurrency key over 255 bytes: each refused naming it")
    func badInput() async throws {
        try await Cluster.with { cluster in
            _ = try await cluster.enqueue(1)
            for (setting, says) in [
                ("key_concurrency: 0", "targets.OrderClient.key_concurrency"), ("circuit: { failures: 0 }", "targets.OrderClient.circuit.failures"),
                ("circuit: { cooldown: 0s }", "targets.OrderClient.circuit.cooldown"),
                ("circuit: { probes: -1 }", "targets.OrderClient.circuit.probes"),
                ("circuit: { window: soon }", "targets.OrderClient.circuit.window"),
            ] {
                let worker = try cluster.startWorker(target: [setting])
                let code = await worker.waitForExit(timeout: .seconds(30))
                #expect(
                    code != nil && code != 0 && worker.stderr.contains(says),
                    "\(setting): exit \(code.map(String.init) ?? "none"), \(worker.stderr.suffix(400))")
            }
            let cli = CommandRunner()
            let set = try await cli.run(["targets", "set", "OrderClient", "--key-concurrency", "0", "--database-url", cluster.database.url])
            #expect(set.exitCode == 2 && set.stderr.contains("key_concurrency: must be at least 1"), "\(set.stderr)")
            let long = try await cli.run([
                "enqueue", "--target", "OrderClient", "--method", "fulfill", "--concurrency-key", String(repeating: "k", count: 256),
                "--database-url", cluster.database.url,
            ])
            #expect(long.exitCode == 2 && long.stderr.contains("concurrency_key"), "\(long.stderr)")
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts") == 1)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets") == 0)
        }
    }
}
