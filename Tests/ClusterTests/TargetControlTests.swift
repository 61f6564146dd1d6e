import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Operator controls per target with real worker processes: a pause through the CLI stops every node within one
/// heartbeat without failing or spending a try; a resume through the admin API starts them again; a misspelled
/// target is refused and changes nothing.
@Suite("Target controls: pause and resume cluster-wide", .serialized)
struct TargetControlTests {
    static let token = "target-controls-admin-token-9d2e"
    static let pausedAtMilliseconds = "SELECT (extract(epoch FROM paused_at) * 1000)::bigint FROM async_task_targets WHERE target = 'OrderClient'"

    static func post(_ url: String, token: String, body: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = body.map { Data($0.utf8) }
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("pause during a drain: no call starts after one heartbeat, nothing fails or spends a try; resume (admin API) runs the rest")
    func pauseDuringDrain() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "100"]) { cluster in
            let ids = try await cluster.enqueue(300)
            let admin = ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"]
            let first = try cluster.startWorker(target: ["concurrency: 4"], extra: admin)
            try cluster.startWorker(target: ["concurrency: 4"])
            try await eventually("the drain is under way", timeout: .seconds(60), every: .milliseconds(20)) {
                (try await cluster.statusCounts()["succeeded"] ?? 0) >= 20
            }
            let cli = CommandRunner()
            let pause = try await cli.run(["targets", "pause", "OrderClient", "--by", "cluster test", "--database-url", cluster.database.url])
            #expect(pause.exitCode == 0, "\(pause.stderr)")
            #expect(pause.stdout.contains("paused"), "\(pause.stdout)")
            // Calls in flight (100 ms) end and attempts claimed ahead go back within one heartbeat (300 ms).
            try await eventually("no lease is held", timeout: .seconds(10), every: .milliseconds(50)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 0
            }
            let calledSoon = try cluster.recordedCalls().count
            try await Task.sleep(for: .seconds(2))
            let calls = try cluster.recordedCalls()
            #expect(calls.count == calledSoon, "calls started while paused")
            // When the pause was stored (the CLI's own start-up under a loaded machine does not count against it).
            let pausedAt = Double(try await cluster.scalar(Self.pausedAtMilliseconds)) / 1000
            let late = calls.filter { $0.at > pausedAt + 1.0 }
            #expect(late.isEmpty, "calls started more than a second after the pause: \(late.map { $0.at - pausedAt })")
            let counts = try await cluster.statusCounts()
            #expect(counts["failed"] == nil && counts["expired"] == nil)
            let pending = counts["pending"] ?? 0
            #expect(pending > 0)
            #expect(
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'pending' AND num_attempts = 0") == pending,
                "a pending attempt spent a try during the pause")

            let list = try await cli.run(["targets", "list", "--json", "--database-url", cluster.database.url])
            #expect(list.exitCode == 0, "\(list.stderr)")
            let targets = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            let orders = try #require(targets.first { $0["name"] as? String == "OrderClient" })
            #expect(orders["paused"] as? Bool == true && orders["paused_by"] as? String == "cluster test")
            #expect((orders["pending"] as? NSNumber)?.intValue == pending && (orders["in_flight"] as? NSNumber)?.intValue == 0)
            #expect((orders["served_by"] as? NSNumber)?.intValue == 2)

            let metricsURL = URL(string: "\(try await cluster.adminURL(of: first))/metrics")!
            try await eventually("/metrics shows the pause", timeout: .seconds(30), every: .milliseconds(250)) {
                let (data, _) = try await URLSession.shared.data(from: metricsURL)
                return String(decoding: data, as: UTF8.self).contains(#"asynctask_target_paused{target="OrderClient"} 1"#)
            }
            let resume = try await Self.post("\(try await cluster.adminURL(of: first))/api/targets/OrderClient/resume", token: Self.token)
            #expect(resume.status == 200 && resume.body.contains("\"paused\":false"), "\(resume.body)")
            try await eventually("every attempt succeeds after the resume", timeout: .seconds(90)) {
                try await cluster.statusCounts()["succeeded"] == ids.count
            }
            #expect(try await cluster.scalar("SELECT max(num_attempts) FROM async_task_attempts") == 1)
            #expect(first.stderr.contains("paused targets changed"))
        }
    }

    @Test("a misspelled target is refused (exit 2, nearest name) and nothing is written; the API answers 404, a missing token 401, bad limits 400")
    func unknownTarget() async throws {
        try await Cluster.with { cluster in
            _ = try await cluster.enqueue(1)
            let worker = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"])
            let cli = CommandRunner()
            let pause = try await cli.run(["targets", "pause", "orderclient", "--database-url", cluster.database.url])
            #expect(pause.exitCode == 2)
            #expect(pause.stderr.contains("unknown target orderclient") && pause.stderr.contains("did you mean OrderClient?"), "\(pause.stderr)")
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets") == 0)
            let admin = try await cluster.adminURL(of: worker)
            #expect(try await Self.post("\(admin)/api/targets/orderclient/pause", token: Self.token).status == 404)
            #expect(try await Self.post("\(admin)/api/targets/OrderClient/pause", token: "wrong").status == 401)
            // Limits through the API: bad bodies are 400 naming the key, an unknown target 404; nothing is stored.
            for (body, says) in [
                (#"{"rate": "fast"}"#, "'fast' is not a rate"), (#"{"rate": 5}"#, "rate: must be text"),
                (#"{"burst": -1}"#, "burst: must be 0 or more"),
                (#"{"global_concurrency": 0}"#, "global_concurrency: must be at least 1"),
                (#"{"global_concurency": 3}"#, "global_concurency: unknown key"),
                (#"{"global_concurrency": true}"#, "must be a whole number"), ("[]", "not a JSON object"), ("{}", "nothing to set"),
            ] {
                let answer = try await Self.post("\(admin)/api/targets/OrderClient/limits", token: Self.token, body: body)
                #expect(answer.status == 400 && answer.body.contains(says), "\(body): \(answer.status) \(answer.body)")
            }
            #expect(
                try await Self.post("\(admin)/api/targets/orderclient/limits", token: Self.token, body: #"{"global_concurrency": 3}"#).status == 404)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets") == 0)
            let limited = try await Self.post(
                "\(admin)/api/targets/OrderClient/limits?by=api%20test", token: Self.token, body: #"{"rate": "30/m", "global_concurrency": 3}"#)
            #expect(
                limited.status == 200 && limited.body.contains(#""global_concurrency":3"#) && limited.body.contains("api test"), "\(limited.body)")
            #expect(try await cluster.scalar("SELECT (rate_per_second * 1000)::int FROM async_task_targets WHERE target = 'OrderClient'") == 500)
            let cleared = try await Self.post("\(admin)/api/targets/OrderClient/limits", token: Self.token, body: #"{"clear": true}"#)
            #expect(cleared.status == 200, "\(cleared.body)")
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_targets WHERE rate_per_second IS NOT NULL OR global_concurrency IS NOT NULL") == 0)
            try await eventually("the attempt still runs", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 1 }
        }
    }

    @Test("max_retry_duration: attempts against a target failing forever fail once their first try is older, with most tries left")
    func retryDeadline() async throws {
        try await Cluster.with(targetArguments: ["--fail-rate", "1"]) { cluster in
            let ids = try await cluster.enqueue(5)
            let started = Date()
            try cluster.startWorker(target: ["max_attempts: 1000", "max_retry_duration: 2s"])
            try await eventually("every attempt fails", timeout: .seconds(60)) { try await cluster.statusCounts()["failed"] == ids.count }
            #expect(Date().timeIntervalSince(started) >= 2)
            // Backoff is 50–200 ms: within 2 s each attempt had a few tries, far from its 1000.
            let most = try await cluster.scalar("SELECT max(num_attempts) FROM async_task_attempts")
            #expect(most >= 2 && most < 100, "tries: \(most)")
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE last_error LIKE '%max_retry_duration 2s passed%' AND last_error_kind = 'http_status' AND completed_at - first_tried_at >= interval '2 seconds'"
                ) == ids.count)
        }
    }
}
