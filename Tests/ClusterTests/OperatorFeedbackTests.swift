import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What operators and producers see from real nodes: warnings at enqueue, doctor's hints, the admin bind error,
/// `/metrics` as promtool reads it, and the node's JSON logs through an outage (issue 17).
@Suite("Operator feedback from real nodes", .serialized)
struct OperatorFeedbackTests {
    let cli = CommandRunner()

    /// A JSON number as JSONSerialization returns it (never a string of digits).
    static func isNumber(_ value: Any?) -> Bool {
        guard let value, !(value is String) else { return false }
        return value is NSNumber || value is Int || value is Double
    }

    func enqueue(_ cluster: Cluster, target: String) async throws -> CommandRunner.Output {
        try await cli.run(
            ["enqueue", "--target", target, "--method", "fulfill", "--args", "{}"], environment: ["ASYNCTASK_DATABASE_URL": cluster.database.url])
    }

    @Test("enqueue warns when no node is live, or none serves the target (nearest served name); doctor suggests it too")
    func unservedTargets() async throws {
        try await Cluster.with { cluster in
            let lonely = try await enqueue(cluster, target: "OrderClient")
            #expect(lonely.exitCode == 0 && lonely.stderr.contains("no worker node is live"), "\(lonely.stderr)")
            try cluster.startWorker()
            try await eventually("the node is live", timeout: .seconds(30)) {
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_nodes WHERE status = 'active' AND heartbeat_at > now() - interval '5 seconds'") == 1
            }
            let miscased = try await enqueue(cluster, target: "orderclient")
            #expect(miscased.exitCode == 0, "\(miscased.stderr)")
            #expect(miscased.stderr.contains("no live node serves target orderclient"), "\(miscased.stderr)")
            #expect(miscased.stderr.contains("did you mean OrderClient?"), "\(miscased.stderr)")
            let served = try await enqueue(cluster, target: "OrderClient")
            #expect(served.exitCode == 0 && !served.stderr.contains("warning"), "\(served.stderr)")
            let doctor = try await cli.run(["doctor"], environment: ["ASYNCTASK_DATABASE_URL": cluster.database.url])
            #expect(
                doctor.exitCode == 1 && doctor.stdout.contains("target orderclient") && doctor.stdout.contains("did the producer mean OrderClient?"),
                "\(doctor.stdout)")
        }
    }

    @Test("a second node on the same admin.listen exits 2 naming the key and the address")
    func adminAddressInUse() async throws {
        try await Cluster.with { cluster in
            let first = try cluster.startWorker()
            let address = try await cluster.adminURL(of: first).replacingOccurrences(of: "http://", with: "")
            let second = try cluster.startWorker(extra: ["admin: { listen: \"\(address)\" }"])
            let code = await second.waitForExit(timeout: .seconds(60))
            #expect(code == 2, "\(second.stderr)")
            #expect(
                second.stderr.contains("error: admin.listen \(address) is already in use; set admin.listen or ASYNCTASK_ADMIN_LISTEN"),
                "\(second.stderr)")
            #expect(first.isRunning)
        }
    }

    @Test("/metrics: every asynctask_* family has # HELP, and `promtool check metrics` accepts a real node's output")
    func metricsLint() async throws {
        try await Cluster.with { cluster in
            let worker = try cluster.startWorker()
            let ids = try await cluster.enqueue(5)
            try await eventually("the attempts succeed", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids]) == 5
            }
            let (data, _) = try await URLSession.shared.data(from: URL(string: try await cluster.adminURL(of: worker) + "/metrics")!)
            let text = String(decoding: data, as: UTF8.self)
            let families = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE asynctask_") }.map { $0.split(separator: " ")[2] }
            #expect(families.count >= 10, "\(text)")
            for family in families {
                #expect(text.contains("# HELP \(family) "), "no HELP for \(family)")
            }
            let file = cluster.directory.appendingPathComponent("metrics.txt")
            try data.write(to: file)
            let promtool = try await ChildProcess.run(["/bin/bash", "-c", "promtool check metrics < \"$0\"", file.path])
            #expect(promtool.exitCode == 0, "promtool: \(promtool.stdout)\(promtool.stderr)")
        }
    }

    @Test("JSON logs through an outage: identical warnings rate-limited, one 'database reachable again', numbers and counters typed")
    func logsThroughOutage() async throws {
        let server = try await PostgresServer.start()
        do {
            try await Cluster.with(server: server.url) { cluster in
                let worker = try cluster.startWorker()
                try await eventually("the node is live", timeout: .seconds(30)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 1
                }
                try await server.control("stop", mode: "fast")
                // Heartbeats every 300 ms: a dozen failed heartbeats during the outage.
                try await eventually("heartbeats fail", timeout: .seconds(30)) { worker.stderr.contains("heartbeat failed") }
                try await Task.sleep(for: .seconds(4))
                try await server.control("start")
                try await eventually("the node says the database is back", timeout: .seconds(60)) {
                    worker.stderr.contains("database reachable again")
                }
                worker.send(SIGTERM)
                #expect(await worker.waitForExit(timeout: .seconds(60)) == 0)
                let lines = worker.stderr.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                let heartbeatFailures = lines.filter { $0["message"] as? String == "heartbeat failed" }
                // One line per distinct error in the window (a dozen failed heartbeats): the server shutting down,
                // refusing connections, starting up (seen on a loaded CI machine) are different warnings.
                let errors = heartbeatFailures.map { String(describing: $0["error"] ?? "") }
                #expect(
                    (1...4).contains(heartbeatFailures.count) && Set(errors).count == errors.count,
                    "\(heartbeatFailures.count) heartbeat warnings for one outage: \(errors)")
                let back = lines.filter { $0["message"] as? String == "database reachable again" }
                #expect(back.count == 1, "\(back)")
                #expect(Self.isNumber(back.first?["unreachable_seconds"]), "\(back)")
                let stopped = try #require(lines.first { $0["message"] as? String == "node stopped" })
                #expect(Self.isNumber(stopped["released_leases"]), "\(stopped)")
                let counters = try #require(stopped["counters"] as? [String: Any], "\(stopped)")
                #expect(Self.isNumber(counters["claimed"]), "\(counters)")
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    @Test("enqueue judges liveness as nodes and doctor do: one --dead-after, the workers' node.dead_after from --config, draining nodes live")
    func livenessAgrees() async throws {
        try await Cluster.with { cluster in
            let worker = try cluster.startWorker(deadAfter: "30s")
            try await eventually("the node is live", timeout: .seconds(30)) {
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_nodes WHERE status = 'active' AND heartbeat_at > now() - interval '5 seconds'") == 1
            }
            let config = cluster.directory.appendingPathComponent("worker1.yaml").path
            let env = ["ASYNCTASK_DATABASE_URL": cluster.database.url]
            // Frozen, its heartbeat 15 s old: past the 10 s default, within its own node.dead_after of 30 s.
            worker.send(SIGSTOP)
            defer { worker.send(SIGCONT) }
            _ = try await cluster.scalar(
                "WITH u AS (UPDATE async_task_nodes SET heartbeat_at = now() - interval '15 seconds' RETURNING 1) SELECT count(*) FROM u")
            func live(_ options: [String], environment: [String: String] = [:]) async throws -> (nodes: Bool, enqueue: Bool, doctor: Bool) {
                let environment = env.merging(environment) { $1 }
                let nodes = try await cli.run(["nodes", "--json"] + options, environment: environment)
                #expect(nodes.exitCode == 0, "\(options): \(nodes.stderr)")
                let listed = try JSONSerialization.jsonObject(with: Data(nodes.stdout.utf8)) as? [[String: Any]]
                let enqueued = try await cli.run(
                    ["enqueue", "--target", "OrderClient", "--method", "fulfill"] + options, environment: environment)
                #expect(enqueued.exitCode == 0, "\(options): \(enqueued.stderr)")
                let doctor = try await cli.run(["doctor"] + options, environment: environment)
                return (
                    listed?.first?["live"] as? Bool == true, !enqueued.stderr.contains("no worker node is live"),
                    !doctor.stdout.contains("no live node serves it")
                )
            }
            let byDefault = try await live([])
            #expect(!byDefault.nodes && !byDefault.enqueue && !byDefault.doctor, "10 s by default: \(byDefault)")
            let explicit = try await live(["--dead-after", "30s"])
            #expect(explicit.nodes && explicit.enqueue && explicit.doctor, "--dead-after 30s: \(explicit)")
            let fromConfig = try await live(["--config", config])
            #expect(fromConfig.nodes && fromConfig.enqueue && fromConfig.doctor, "node.dead_after 30s of --config: \(fromConfig)")
            let fromVariable = try await live([], environment: ["ASYNCTASK_NODE_DEAD_AFTER": "30s"])
            #expect(fromVariable.nodes && fromVariable.enqueue && fromVariable.doctor, "ASYNCTASK_NODE_DEAD_AFTER=30s: \(fromVariable)")
            let bad = try await cli.run(["enqueue", "--target", "OrderClient", "--method", "fulfill", "--dead-after", "soon"], environment: env)
            #expect(bad.exitCode == 2 && bad.stderr.contains("--dead-after"), "\(bad.stderr)")

            // A draining node with a fresh heartbeat is live for all of them (enqueue used to count only 'active').
            _ = try await cluster.scalar(
                "WITH u AS (UPDATE async_task_nodes SET status = 'draining', heartbeat_at = now() RETURNING 1) SELECT count(*) FROM u")
            let draining = try await live([])
            #expect(draining.nodes && draining.enqueue && draining.doctor, "draining: \(draining)")
        }
    }

    @Test("JSON logs type values by how they were logged: ids and counts are numbers, a digits-only key id stays a string")
    func logValueTypes() async throws {
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        try await Cluster.with { cluster in
            let worker = try cluster.startWorker(extra: ["encryption: { primary: \"2\", keys: { \"2\": \"\(key)\" } }"])
            let id = try await cluster.enqueue(1, method: "charge", arguments: { _ in #"{"_status":503,"_retry_after":"3600"}"# })[0]
            func lines() -> [[String: Any]] {
                worker.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            }
            try await eventually("the 503 is logged", timeout: .seconds(30)) {
                lines().contains { $0["message"] as? String == "attempt will be retried" }
            }
            let started = try #require(lines().first { $0["message"] as? String == "node started" })
            #expect(started["encryption_keys"] as? String == "2", "a key id is text, whatever it looks like: \(started)")
            #expect(Self.isNumber(started["concurrency"]), "\(started)")
            let retried = try #require(lines().first { $0["message"] as? String == "attempt will be retried" })
            #expect((retried["attempt_id"] as? NSNumber)?.int64Value == id && !(retried["attempt_id"] is String), "\(retried)")
            #expect(Self.isNumber(retried["attempt_number"]) && Self.isNumber(retried["http_status"]), "\(retried)")
            #expect(retried["target"] as? String == "OrderClient" && retried["error_kind"] as? String == "http_status", "\(retried)")
        }
    }

    @Test("a count of held-back warnings is written even when no identical warning follows its window (log.repeat_window)")
    func repeatedCountNotLost() async throws {
        let server = try await PostgresServer.start()
        do {
            try await Cluster.with(server: server.url) { cluster in
                // A 30 s window, far longer than the outage: no identical warning comes after it to carry the count.
                let worker = try cluster.startWorker(environment: ["ASYNCTASK_LOG_REPEAT_WINDOW": "30s"])
                try await eventually("the node is live", timeout: .seconds(30)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 1
                }
                try await server.control("stop", mode: "fast")
                try await eventually("heartbeats fail", timeout: .seconds(30)) { worker.stderr.contains("heartbeat failed") }
                let firstFailure = ContinuousClock.now
                // Heartbeats every 300 ms: several more failures, held back.
                try await Task.sleep(for: .seconds(2))
                try await server.control("start")
                try await eventually("the node says the database is back", timeout: .seconds(60)) {
                    worker.stderr.contains("database reachable again")
                }
                // Past the window, then lines of another kind: the node's shutdown.
                try await Task.sleep(until: firstFailure + .seconds(31))
                worker.send(SIGTERM)
                #expect(await worker.waitForExit(timeout: .seconds(60)) == 0)
                let lines = worker.stderr.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                let written = lines.filter { $0["message"] as? String == "heartbeat failed" }
                let summaries = lines.filter {
                    $0["message"] as? String == "warning repeated" && $0["repeated_message"] as? String == "heartbeat failed"
                }
                let held = summaries.compactMap { ($0["repeated"] as? NSNumber)?.intValue }.reduce(0, +)
                #expect(!summaries.isEmpty && held >= 1, "written: \(written.count), summaries: \(summaries)")
                #expect(summaries.allSatisfy { $0["level"] as? String == "warning" && $0["error"] != nil }, "\(summaries)")
                #expect(!written.contains { $0["repeated"] != nil }, "no identical warning after the window: \(written)")
                // Summaries come after the window, before the shutdown's lines are done.
                let summaryIndex = try #require(lines.firstIndex { $0["message"] as? String == "warning repeated" })
                let backIndex = try #require(lines.firstIndex { $0["message"] as? String == "database reachable again" })
                #expect(summaryIndex > backIndex, "the count waits for its window")
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
