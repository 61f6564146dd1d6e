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
}
