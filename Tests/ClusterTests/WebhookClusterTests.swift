import AsyncTask
import AsyncTaskWorker
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Failure webhook", .serialized)
struct WebhookClusterTests {
    static let secrets = ["old-secret-0123456789", "new-secret-0123456789"]

    /// A webhook receiver process (the example target's POST /webhook) on a fixed port, so it can go away and
    /// come back at the same address.
    func startReceiver(_ cluster: Cluster, port: Int, record: URL) throws -> ManagedProcess {
        try ManagedProcess(
            name: "receiver-\(UUID().uuidString.prefix(4))",
            arguments: ["example-target", "--port", String(port), "--webhook-record", record.path], directory: cluster.directory)
    }

    @Test("receiver down for 30 s: every event arrives afterwards, signed with every secret, ids unique; rolled-back changes send nothing")
    func durableDelivery() async throws {
        try await Cluster.with { cluster in
            let record = cluster.directory.appendingPathComponent("webhooks.jsonl")
            // Below Linux's ephemeral range (32768-60999): the port must still be free when the receiver comes back
            // 30 s later, and a client socket of another test could take one in that range meanwhile.
            let port = Int.random(in: 20_000..<32_000)
            var receiver = try startReceiver(cluster, port: port, record: record)
            _ = try await receiver.waitForOutput("listening on ")
            receiver.send(SIGKILL)
            _ = await receiver.waitForExit(timeout: .seconds(5))
            let downSince = ContinuousClock.now

            // 10 attempts fail twice with 503 (1 error + 1 failed event each), 5 fail with 404 (1 failed event each).
            let flaky = try await cluster.enqueue(10, arguments: { _ in #"{"_status":503}"# }, maxAttempts: 2)
            let missing = try await cluster.enqueue(5, arguments: { _ in #"{"_status":404}"# })
            // 3 future attempts expired by an operator (1 expired event each); one expiry rolled back (no event).
            let later = try await cluster.enqueue(4, scheduledAt: Date().addingTimeInterval(3600))
            try cluster.startWorker(extra: [
                "webhook:",
                "  url: http://127.0.0.1:\(port)/webhook",
                "  secrets: [\(Self.secrets.joined(separator: ", "))]",
                "  events: [attempt.error, attempt.failed, attempt.expired]",
                "  backoff: { base: 200ms, max: 1s }",
                "  max_attempts: 10000",
            ])
            try await eventually("the node published the webhook settings") {
                try await cluster.scalar("SELECT count(*) FROM async_task_settings WHERE key = 'webhook'") == 1
            }
            try await cluster.pool.withTransaction { connection in
                for id in later.prefix(3) { try await AttemptActions().expire(id, on: connection) }
            }
            struct Undo: Error {}
            try? await cluster.pool.withTransaction { connection in
                try await AttemptActions().expire(later[3], on: connection)
                throw Undo()
            }
            try await eventually("all 28 events are written", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE target = '@webhook'") == 28
            }
            // Keep the receiver down for 30 s in all; deliveries fail and are retried meanwhile.
            try await Task.sleep(until: downSince + .seconds(30))
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE target = '@webhook' AND status = 'pending' AND num_attempts > 0") > 0)
            receiver = try startReceiver(cluster, port: port, record: record)
            _ = try await receiver.waitForOutput("listening on ")
            try await eventually("every event is delivered", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE target = '@webhook' AND status = 'succeeded'") == 28
            }

            let deliveries = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let ids = deliveries.compactMap { $0["event_id"] as? String }
            #expect(Set(ids).count == 28, "distinct event ids delivered")
            #expect(!ids.contains(""))
            let now = Int64(Date().timeIntervalSince1970)
            var events: [String: Int] = [:]
            var attemptIDs = Set<Int64>()
            for delivery in deliveries {
                let body = Array((delivery["body"] as? String ?? "").utf8)
                let header = delivery["signature"] as? String ?? ""
                for secret in Self.secrets {
                    #expect(
                        WebhookSignature.verify(header: header, body: body, secrets: [secret], now: now, tolerance: 600), "signature with \(secret)")
                }
                #expect(!WebhookSignature.verify(header: header, body: body, secrets: ["wrong-secret-0123456789"], now: now, tolerance: 600))
                let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                #expect(object["event_id"] as? String == delivery["event_id"] as? String)
                events[object["event"] as? String ?? "?", default: 0] += 1
                let attempt = try #require(object["attempt"] as? [String: Any])
                attemptIDs.insert((attempt["id"] as? NSNumber)?.int64Value ?? 0)
                #expect(attempt["method_args"] == nil, "args are left out unless include_args")
                #expect((attempt["target"] as? String) == "OrderClient")
                #expect(object["error"] is [String: Any])
                #expect(object["occurred_at"] is String)
            }
            // The README's shell verifier accepts a real delivery with either secret and refuses a wrong one.
            if let sample = deliveries.first, let body = sample["body"] as? String, let header = sample["signature"] as? String {
                let bodyFile = cluster.directory.appendingPathComponent("body.json")
                try Data(body.utf8).write(to: bodyFile)
                let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent("examples/verify_webhook.sh").path
                for (secret, expected) in [(Self.secrets[0], "valid"), (Self.secrets[1], "valid"), ("wrong-secret-0123456789", "INVALID")] {
                    let output = try await ChildProcess.run(
                        ["/bin/sh", script, bodyFile.path], environment: ["SIG": header, "WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"])
                    let text = output.stdout
                    #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
                }
            }
            // Redeliveries of one event keep its id: count distinct ids per kind.
            let distinct = Dictionary(grouping: deliveries, by: { $0["event_id"] as? String ?? "" }).compactMapValues {
                $0.first?["event"] as? String
            }
            let kinds = Dictionary(grouping: distinct.values, by: { $0 }).mapValues(\.count)
            #expect(kinds == ["attempt.error": 10, "attempt.failed": 15, "attempt.expired": 3])
            #expect(!attemptIDs.contains(later[3]), "a rolled-back expiry sent an event")
            #expect(attemptIDs.isSuperset(of: Set(flaky + missing)))
            // A failing delivery never produced an event about itself.
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE target = '@webhook' AND method_args -> 'attempt' ->> 'target' = '@webhook'") == 0)
            _ = events
        }
    }

    @Test(
        "two nodes with different webhook.events: events follow the union of the live nodes, args only if all include them; with none live, the last union"
    )
    func eventsFollowLiveNodes() async throws {
        try await Cluster.with { cluster in
            // Nobody listens: deliveries fail and retry, the event rows stay for counting.
            func webhook(events: String, includeArgs: Bool) -> [String] {
                [
                    "webhook:", "  url: http://127.0.0.1:9/webhook", "  secret: \(Self.secrets[0])", "  events: [\(events)]",
                    "  include_args: \(includeArgs)",
                    "  backoff: { base: 1s, max: 1s }", "  max_attempts: 10000",
                ]
            }
            func publishedNodes() async throws -> Int {
                try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active' AND webhook IS NOT NULL")
            }
            func stop(_ worker: ManagedProcess) async throws {
                worker.send(SIGTERM)
                #expect(await worker.waitForExit(timeout: .seconds(30)) != nil)
                #expect(try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE pid = $1 AND status = 'stopped'", [worker.pid]) == 1)
            }
            /// The events written about `id`: their kinds, and whether they carry the arguments.
            func events(about id: Int64) async throws -> [(event: String, hasArgs: Bool)] {
                try await cluster.pool.query(
                    PostgresStatement(
                        name: "events_about",
                        sql: """
                            SELECT method_name, (method_args -> 'attempt') ? 'method_args' AS has_args FROM async_task_attempts
                            WHERE target = '@webhook' AND (method_args -> 'attempt' ->> 'id')::bigint = $1 ORDER BY id
                            """), [id]
                ).map { row in (try row.decode(String.self, "method_name"), try row.decode(Bool.self, "has_args")) }
            }
            let later = try await cluster.enqueue(6, scheduledAt: Date().addingTimeInterval(3600))
            let actions = AttemptActions()

            let first = try cluster.startWorker(extra: webhook(events: "attempt.failed", includeArgs: false))
            try await eventually("the first node published its webhook") { try await publishedNodes() == 1 }
            let second = try cluster.startWorker(extra: webhook(events: "attempt.expired", includeArgs: true))
            try await eventually("both nodes published their webhooks") { try await publishedNodes() == 2 }

            // Both live: each node's events are written; the arguments only if both include them (one does not).
            try await cluster.pool.withConnection { connection in
                try await actions.fail(later[0], reason: "operator", on: connection)
                try await actions.expire(later[1], on: connection)
            }
            #expect(try await events(about: later[0]).map(\.event) == ["attempt.failed"])
            #expect(try await events(about: later[1]).map(\.event) == ["attempt.expired"])
            #expect(try await events(about: later[0]).allSatisfy { !$0.hasArgs })
            #expect(try await events(about: later[1]).allSatisfy { !$0.hasArgs })

            // Only the second live: its events only, with the arguments it includes.
            try await stop(first)
            try await cluster.pool.withConnection { connection in
                try await actions.fail(later[2], reason: "operator", on: connection)
                try await actions.expire(later[3], on: connection)
            }
            #expect(try await events(about: later[2]).isEmpty, "no live node asks for attempt.failed")
            let expired = try await events(about: later[3])
            #expect(expired.map(\.event) == ["attempt.expired"])
            #expect(expired.first?.hasArgs == true)

            // None live: the union the live nodes had when the second started (both events, args not by both).
            try await stop(second)
            try await cluster.pool.withConnection { connection in
                try await actions.fail(later[4], reason: "operator", on: connection)
                try await actions.expire(later[5], on: connection)
            }
            #expect(try await events(about: later[4]).map(\.event) == ["attempt.failed"])
            let fallback = try await events(about: later[5])
            #expect(fallback.map(\.event) == ["attempt.expired"])
            #expect(fallback.first?.hasArgs == false)
        }
    }
}
