import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Ordered keys with real worker processes and a target that records when every call starts and ends: per key,
/// one call at a time in id order through 503s, a node killed and a node frozen past its lease; what a head's
/// permanent failure does under `on_failure: skip` and `block`, and the operator's way out; bad keys refused.
@Suite("Ordered keys: one at a time, in id order, across node deaths", .serialized)
struct OrderedKeyTests {
    /// Per key, the calls in the order they started, without repeated deliveries made under a lost lease (a call
    /// of an attempt after a later try of it started): the ids must not go down, and no call may start before the
    /// one before it ended.
    static func check(
        calls: [(id: Int64, number: Int, at: Double)], ends: [Cluster.CallKey: Double], keyOf: [Int64: Int]
    ) -> (repeats: Int, outOfOrder: [String], overlaps: [String]) {
        var byKey: [Int: [(id: Int64, number: Int, at: Double)]] = [:]
        for call in calls {
            guard let key = keyOf[call.id] else { continue }
            byKey[key, default: []].append(call)
        }
        var repeats = 0
        var outOfOrder: [String] = []
        var overlaps: [String] = []
        for (key, list) in byKey {
            var highest: [Int64: Int] = [:]
            var kept: [(id: Int64, number: Int, at: Double)] = []
            for call in list.sorted(by: { $0.at < $1.at }) {
                // A later try of this attempt already started: this call was made under a lease lost meanwhile
                // (the repeated delivery after a kill or a freeze that at-least-once allows).
                if let seen = highest[call.id], seen > call.number {
                    repeats += 1
                    continue
                }
                highest[call.id] = call.number
                kept.append(call)
            }
            for (earlier, later) in zip(kept, kept.dropFirst()) {
                if later.id < earlier.id { outOfOrder.append("key-\(key): \(later.id) called after \(earlier.id)") }
                if let end = ends[Cluster.CallKey(id: earlier.id, number: earlier.number)], later.at < end, later.id != earlier.id {
                    overlaps.append("key-\(key): \(later.id) started \(Int((end - later.at) * 1000)) ms before \(earlier.id) ended")
                }
            }
        }
        return (repeats, outOfOrder, overlaps)
    }

    @Test(
        "200 keys × 25 attempts, 3 nodes, 20% answered 503 after random delays, one node killed -9 and one SIGSTOPped past dead_after: per key, calls in id order, never two at once"
    )
    func orderUnderChaos() async throws {
        try await Cluster.with(targetArguments: ["--fail-rate", "0.2", "--delay-ms", "2", "--delay-jitter-ms", "20", "--record-ends"]) {
            cluster in
            let keys = 200
            let ids = try await cluster.enqueue(keys * 25, orderingKey: { "key-\($0 % 200)" })
            var keyOf: [Int64: Int] = [:]
            for (n, id) in ids.enumerated() { keyOf[id] = n % keys }
            let started = Date()
            var workers: [ManagedProcess] = []
            for _ in 0..<3 { workers.append(try cluster.startWorker()) }
            try await eventually("1,000 calls", timeout: .seconds(90), every: .milliseconds(20)) { try cluster.recordedCalls().count >= 1000 }
            workers[0].send(SIGKILL)
            try await eventually("2,500 calls", timeout: .seconds(90), every: .milliseconds(20)) { try cluster.recordedCalls().count >= 2500 }
            // Frozen past dead_after (2 s): the other node reaps it and takes its keys over; then it wakes with
            // claims and calls of a lease it no longer holds.
            workers[1].send(SIGSTOP)
            try await Task.sleep(for: .seconds(4))
            workers[1].send(SIGCONT)
            try await eventually("every attempt succeeds", timeout: .seconds(240), every: .milliseconds(250)) {
                try await cluster.statusCounts()["succeeded"] == ids.count
            }
            let took = Date().timeIntervalSince(started)
            let calls = try cluster.recordedCalls()
            let ends = try cluster.recordedEnds()
            let (repeats, outOfOrder, overlaps) = Self.check(calls: calls, ends: ends, keyOf: keyOf)
            #expect(Set(calls.map(\.id)).count == ids.count, "every attempt was called")
            #expect(outOfOrder.count == 0, "\(outOfOrder.count) calls out of order, e.g. \(outOfOrder.prefix(5))")
            #expect(overlaps.count == 0, "\(overlaps.count) overlapping calls of one key, e.g. \(overlaps.prefix(5))")
            let retried = calls.count - ids.count - repeats
            #expect(retried > 500, "about a fifth of the calls were answered 503 and retried (\(retried))")
            print(
                "ordered keys: \(ids.count) attempts on \(keys) keys, \(calls.count) calls (\(retried) retries after 503, \(repeats) repeated deliveries after the kill and the freeze), \(outOfOrder.count) out of order, \(overlaps.count) overlaps, drained in \(String(format: "%.1f", took)) s"
            )
        }
    }

    @Test("through the claim function: 40 keys × 10 attempts on a target with global_concurrency 30, 2 nodes: per key in id order, never two at once")
    func orderWithGlobalLimit() async throws {
        try await Cluster.with(targetArguments: ["--fail-rate", "0.2", "--delay-jitter-ms", "10", "--record-ends"]) { cluster in
            let ids = try await cluster.enqueue(400, orderingKey: { "key-\($0 % 40)" })
            var keyOf: [Int64: Int] = [:]
            for (n, id) in ids.enumerated() { keyOf[id] = n % 40 }
            for _ in 0..<2 { try cluster.startWorker(target: ["global_concurrency: 30"]) }
            try await eventually("every attempt succeeds", timeout: .seconds(120), every: .milliseconds(250)) {
                try await cluster.statusCounts()["succeeded"] == ids.count
            }
            let calls = try cluster.recordedCalls()
            let (_, outOfOrder, overlaps) = Self.check(calls: calls, ends: try cluster.recordedEnds(), keyOf: keyOf)
            #expect(outOfOrder.count == 0, "\(outOfOrder.count) calls out of order, e.g. \(outOfOrder.prefix(5))")
            #expect(overlaps.count == 0, "\(overlaps.count) overlapping calls of one key, e.g. \(overlaps.prefix(5))")
            #expect((try await cluster.targetStats()["peak_in_flight"] ?? 0) <= 30)
        }
    }

    @Test(
        "a head that fails for good: skip runs the key's next attempt and the event says moved_on; block holds the rest (doctor, targets blocked) until a retry or `targets unblock`; unkeyed attempts pass"
    )
    func skipAndBlock() async throws {
        let webhooks = FileManager.default.temporaryDirectory.appendingPathComponent("ordered-webhooks-\(UUID().uuidString.prefix(8)).jsonl")
        try await Cluster.with(targetArguments: ["--webhook-record", webhooks.path]) { cluster in
            let cli = CommandRunner()
            let env = ["ASYNCTASK_DATABASE_URL": cluster.database.url]
            let failSecond: @Sendable (Int) -> String = { $0 == 1 ? #"{"_status":400}"# : #"{"order_number":\#($0)}"# }
            let webhook = [
                "webhook:", "  url: \(cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/webhook"))",
                "  secret: 0123456789abcdef0123456789abcdef", "  events: [attempt.failed]",
            ]
            func state(of id: Int64) async throws -> String? {
                try await cluster.pool.query(
                    PostgresStatement(
                        name: "event_state",
                        sql: """
                            SELECT method_args -> 'ordering' ->> 'state' AS state FROM async_task_attempts
                            WHERE target = '@webhook' AND (method_args -> 'attempt' ->> 'id')::bigint = $1
                            """), [id]
                ).first?.decode(String?.self, "state")
            }

            // skip (the default): the key moves on past its failed head.
            let skipped = try await cluster.enqueue(4, arguments: failSecond, orderingKey: { _ in "s" })
            let first = try cluster.startWorker(extra: webhook)
            try await eventually("key s finishes", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE ordering_key = 's' AND status <> 'pending'") == 4
            }
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed' AND NOT key_blocked", [skipped[1]]) == 1)
            let order = try cluster.recordedCalls().filter { skipped.contains($0.id) }.sorted { $0.at < $1.at }.map(\.id)
            #expect(order == skipped, "calls of key s in order \(order)")
            try await eventually("the failure's event says the key moved on", timeout: .seconds(30)) { try await state(of: skipped[1]) == "moved_on" }
            first.send(SIGTERM)
            _ = await first.waitForExit(timeout: .seconds(20))

            // block: the rest of the key waits; attempts without a key run.
            let blocked = try await cluster.enqueue(4, arguments: failSecond, orderingKey: { _ in "b" })
            let free = try await cluster.enqueue(5)
            try cluster.startWorker(target: ["ordering: { on_failure: block }"], extra: webhook)
            try await eventually("the head fails and blocks key b; the unkeyed attempts succeed", timeout: .seconds(60)) {
                let head = try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed' AND key_blocked", [blocked[1]])
                let unkeyed = try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [free])
                return head == 1 && unkeyed == 5
            }
            try await Task.sleep(for: .seconds(1))
            #expect(
                !(try cluster.recordedCalls().contains { $0.id == blocked[2] || $0.id == blocked[3] }), "nothing behind the blocked head was called")
            try await eventually("the failure's event says the key is blocked", timeout: .seconds(30)) {
                try await state(of: blocked[1]) == "blocked"
            }

            let doctor = try await cli.run(["doctor", "--json"], environment: env)
            #expect(doctor.exitCode == 1)
            #expect(
                doctor.stdout.contains("ordering key b of OrderClient is blocked by failed attempt \(blocked[1]) (2 attempt(s) waiting)"),
                "\(doctor.stdout)")
            let listed = try await cli.run(["targets", "blocked", "OrderClient", "--json"], environment: env)
            let keys = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stdout)")
            #expect(keys.count == 1 && keys.first?["ordering_key"] as? String == "b" && (keys.first?["waiting"] as? NSNumber)?.intValue == 2)
            #expect((keys.first?["head_id"] as? NSNumber)?.int64Value == blocked[1])
            let list = try await cli.run(["targets", "list"], environment: env)
            #expect(list.stdout.contains("BLOCKED KEYS"), "\(list.stdout)")

            // A retry runs the head again before the rest (it fails again here, and blocks again).
            let retry = try await cli.run(["attempts", "retry", String(blocked[1])], environment: env)
            #expect(retry.exitCode == 0, "\(retry.stderr)")
            try await eventually("the retried head fails again and holds the key", timeout: .seconds(60)) {
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed' AND key_blocked AND num_attempts = 2", [blocked[1]])
                    == 1
            }
            #expect(!(try cluster.recordedCalls().contains { $0.id == blocked[2] }), "the head's retry ran before the rest")

            let unblock = try await cli.run(["targets", "unblock", "OrderClient", "b"], environment: env)
            #expect(unblock.exitCode == 0, "\(unblock.stderr)")
            #expect(unblock.stdout.contains("attempt \(blocked[1]) stays failed"))
            try await eventually("the rest of key b runs", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [blocked]) == 3
            }
            let calls = try cluster.recordedCalls().filter { blocked.contains($0.id) }.sorted { $0.at < $1.at }.map(\.id)
            #expect(calls == [blocked[0], blocked[1], blocked[1], blocked[2], blocked[3]], "calls of key b: \(calls)")
            let again = try await cli.run(["targets", "unblock", "OrderClient", "b"], environment: env)
            #expect(again.exitCode == 2)
            #expect(again.stderr.contains("ordering key b of target OrderClient is not blocked"), "\(again.stderr)")
            let healthy = try await cli.run(["doctor"], environment: env)
            #expect(healthy.stdout.contains("no ordering key is blocked"), "\(healthy.stdout)")
        }
    }

    @Test(
        "parking: rows behind a pending row of their key wait outside the claims' range and are promoted one by one; a retry while a later call is in flight waits for it; the sweep promotes a stranded row"
    )
    func parking() async throws {
        try await Cluster.with { cluster in
            let cli = CommandRunner()
            let env = ["ASYNCTASK_DATABASE_URL": cluster.database.url]
            let parkedCount = "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND available_at = 'infinity'"
            // One transaction: each row sees the ones before it, so all but the key's first wait parked.
            let queued = try await cluster.enqueue(10, orderingKey: { _ in "p" })
            let unkeyed = try await cluster.enqueue(1)
            #expect(try await cluster.scalar(parkedCount, [queued]) == 9)
            #expect(try await cluster.scalar(parkedCount, [[queued[0]] + unkeyed]) == 0)
            let waiting = try await cli.run(["attempts", "list", "--state", "waiting", "--json"], environment: env)
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(waiting.stdout.utf8)) as? [[String: Any]], "\(waiting.stdout)")
            #expect(Set(listed.compactMap { ($0["id"] as? NSNumber)?.int64Value }) == Set(queued.dropFirst()))
            let scheduled = try await cli.run(["attempts", "list", "--state", "scheduled", "--json"], environment: env)
            #expect(
                (try JSONSerialization.jsonObject(with: Data(scheduled.stdout.utf8)) as? [Any])?.isEmpty == true,
                "parked rows are not scheduled: \(scheduled.stdout)")

            // Key r: its head fails for good (skip moves on), the next call takes 20 s (a loaded CI machine once
            // took over 3 s to start the retrying CLI); the head is retried while that call is in flight.
            let keyR = try await cluster.enqueue(
                3, arguments: { [#"{"_status":400}"#, #"{"_delay_ms":20000}"#, #"{"order_number":2}"#][$0] }, orderingKey: { _ in "r" })
            try cluster.startWorker()
            try await eventually("key p drains", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [queued]) == 10
            }
            let order = try cluster.recordedCalls().filter { queued.contains($0.id) }.sorted { $0.at < $1.at }.map(\.id)
            #expect(order == queued, "calls of key p: \(order)")
            try await eventually("the slow call of key r is in flight", timeout: .seconds(30), every: .milliseconds(20)) {
                try cluster.recordedCalls().contains { $0.id == keyR[1] }
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed'", [keyR[0]]) == 1)
            let retry = try await cli.run(["attempts", "retry", String(keyR[0])], environment: env)
            #expect(retry.exitCode == 0, "\(retry.stderr)")
            #expect(try await cluster.scalar(parkedCount, [[keyR[0]]]) == 1, "the retried head waits for the call in flight")
            try await eventually("key r finishes", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status <> 'pending'", [keyR]) == 3
            }
            let calls = try cluster.recordedCalls().filter { keyR.contains($0.id) }.sorted { $0.at < $1.at }.map(\.id)
            #expect(calls == [keyR[0], keyR[1], keyR[0], keyR[2]], "calls of key r: \(calls)")

            // A parked row nothing will promote (as if its promotion had slipped between two commits).
            // Parked in its inserting transaction after the insert, so its commit's own check does not see it.
            let stranded = try await cluster.pool.withTransaction { connection in
                let ids = try await AttemptQueue().enqueue(
                    [try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data("{}".utf8), orderingKey: "q")], on: connection)
                _ = try await connection.query(
                    PostgresStatement(name: "strand", sql: "UPDATE async_task_attempts SET available_at = 'infinity' WHERE id = $1"), [ids[0]])
                return ids
            }
            #expect(try await cluster.scalar(parkedCount, [stranded]) == 1)
            try await eventually("the sweep promotes and the node runs the stranded row", timeout: .seconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [stranded[0]]) == 1
            }
        }
    }

    @Test("an ordering key over 255 bytes or empty is refused by the CLI and by the table, naming ordering_key; nothing is inserted")
    func badKeys() async throws {
        try await Cluster.with { cluster in
            let cli = CommandRunner()
            let env = ["ASYNCTASK_DATABASE_URL": cluster.database.url]
            for key in [String(repeating: "k", count: 256), ""] {
                let result = try await cli.run(
                    ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", "{}", "--ordering-key", key], environment: env)
                #expect(result.exitCode == 2)
                #expect(result.stderr.contains("ordering_key"), "\(result.stderr)")
            }
            await #expect(throws: PostgresError.self) {
                try await cluster.pool.query(
                    PostgresStatement(
                        name: "long_key",
                        sql: "INSERT INTO async_task_attempts (target, method_name, ordering_key) VALUES ('OrderClient', 'fulfill', $1)"),
                    [String(repeating: "é", count: 128)])
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts") == 0)
            let ok = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", "{}", "--ordering-key", String(repeating: "k", count: 255)],
                environment: env)
            #expect(ok.exitCode == 0, "\(ok.stderr)")
        }
    }
}
