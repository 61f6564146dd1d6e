import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The operator surface of real worker processes: admin server, readiness while draining, metrics, the
/// dashboard in a real browser, and retention under load.
@Suite("Operating a cluster: admin server, dashboard, retention", .serialized)
struct OperationsTests {
    static let token = "cluster-test-admin-token-4f1c"

    func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("a worker serves /readyz (503 as soon as it drains, while calls finish) and /metrics with its counters")
    func readinessFlipsWhileDraining() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "2500"]) { cluster in
            let worker = try cluster.startWorker(
                node: ["shutdown_grace: 15s"], extra: ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"])
            let admin = try await cluster.adminURL(of: worker)
            try await eventually("the node is ready", timeout: .seconds(20)) { try await get(admin + "/readyz").status == 200 }
            _ = try await cluster.enqueue(5)
            try await eventually("5 calls in flight", timeout: .seconds(20), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 5
            }
            let metrics = try await get(admin + "/metrics").body
            #expect(metrics.contains("asynctask_attempts_claimed_total 5"), "\(metrics)")
            #expect(metrics.contains("asynctask_in_flight 5.0"), "\(metrics)")
            // Every claim statement is timed: the ones that claimed these five and the empty ones since.
            #expect(metrics.contains("# HELP asynctask_claim_duration_seconds "), "\(metrics)")
            let claimCount = metrics.split(separator: "\n").first { $0.hasPrefix("asynctask_claim_duration_seconds_count ") }
            #expect(claimCount.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true, "\(metrics)")
            #expect(metrics.contains("asynctask_queue_running{target=\"OrderClient\"} 5.0"))

            worker.send(SIGTERM)
            let signalled = ContinuousClock.now
            try await eventually("/readyz turns 503", timeout: .seconds(5), every: .milliseconds(20)) {
                try await get(admin + "/readyz").status == 503
            }
            #expect(ContinuousClock.now - signalled < .seconds(2))
            #expect(worker.isRunning, "the node is still draining its in-flight calls")
            let ready = try await get(admin + "/readyz")
            #expect(ready.body.contains("\"draining\":true"))
            #expect(try await get(admin + "/healthz").status == 200)
            #expect(await worker.waitForExit(timeout: .seconds(20)) == 0)
            #expect(try await cluster.statusCounts()["succeeded"] == 5, "the drained calls were recorded")
        }
    }

    @Test(
        "the dashboard in headless Chromium shows the database's figures, and its retry button retries",
        .enabled(if: HeadlessChromium.shouldRun, "chromium is not installed (scripts/ensure-deps.sh installs it; set CI to make this a failure)"))
    func dashboardInBrowser() async throws {
        let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("artifacts")
        try await Cluster.with { cluster in
            let worker = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"])
            let admin = try await cluster.adminURL(of: worker)
            _ = try await cluster.enqueue(20)
            let failing = try await cluster.enqueue(3, method: "charge", arguments: { _ in #"{"_status":422}"# })
            try await eventually("20 succeed and 3 fail", timeout: .seconds(30)) {
                let counts = try await cluster.statusCounts()
                return counts["succeeded"] == 20 && counts["failed"] == 3
            }
            let browser = try await HeadlessChromium()
            do {
                try await browser.navigate(admin + "/")
                func figure(_ name: String) async throws -> String? {
                    try await browser.evaluate("document.querySelector('[data-figure=\"\(name)\"][data-target=\"OrderClient\"]')?.textContent")
                        as? String
                }
                let stats = try await cluster.pool.withConnection { try await ClusterStats().perTarget(on: $0) }.first { $0.target == "OrderClient" }
                #expect(try await figure("succeeded") == String(stats?.succeededLastHour ?? -1))
                #expect(try await figure("failed") == String(stats?.failedLastHour ?? -1))
                #expect(try await figure("pending") == String(stats?.pending ?? -1))
                #expect(try await figure("chart-succeeded") == "20")
                #expect(try await figure("chart-failed") == "3")
                let nodeRows = try await browser.evaluate("document.querySelectorAll('#nodes tr[data-node]').length") as? Int
                #expect(nodeRows == 1)
                let failureText = try await browser.evaluate("document.body.innerText") as? String ?? ""
                #expect(failureText.contains("HTTP status 422"), "recent failures show their errors")
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-overview.png"))

                // Open a failed attempt, type the token, click Retry: a real form POST and redirect.
                let id = failing[0]
                try await browser.navigate(admin + "/attempts/\(id)")
                #expect(try await browser.evaluate("document.querySelector('[data-field=\"status\"]').textContent") as? String == "failed")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#retry-form input[name=token]').value = '\(Self.token)';
                    document.querySelector('#retry-button').click(); true
                    """)
                try await browser.waitForPage { $0.hasSuffix("/attempts/\(id)?done=retry") }
                let notice = try await browser.evaluate("document.querySelector('#notice')?.textContent") as? String
                #expect(notice?.hasPrefix("retry applied") == true, "\(notice ?? "no notice")")
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-after-retry.png"))
                try await eventually("the retried attempt runs again (and fails again on 422)", timeout: .seconds(20)) {
                    try await cluster.scalar("SELECT num_attempts FROM async_task_attempts WHERE id = $1 AND status = 'failed'", [id]) == 2
                }
                // A wrong token through the same form changes nothing.
                try await browser.navigate(admin + "/attempts/\(failing[1])")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#retry-form input[name=token]').value = 'not-the-token';
                    document.querySelector('#retry-button').click(); true
                    """)
                try await browser.waitForPage { $0.hasSuffix("/attempts/\(failing[1])/retry") }
                #expect(
                    (try await browser.evaluate("document.querySelector('#notice').textContent") as? String)?.contains("Wrong or missing admin token")
                        == true)
                #expect(
                    try await cluster.scalar("SELECT num_attempts FROM async_task_attempts WHERE id = $1 AND status = 'failed'", [failing[1]]) == 1)
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
        }
    }

    /// Backends of this database waiting on a lock held by the pruner's DELETE.
    static let blockedByPrunerSQL = """
        SELECT count(*) FROM pg_stat_activity w
        WHERE w.datname = current_database() AND EXISTS (
            SELECT 1 FROM pg_stat_activity b
            WHERE b.pid = ANY(pg_blocking_pids(w.pid)) AND b.query LIKE '%DELETE FROM async_task_attempts%')
        """

    @Test("retention prunes 30,000 old attempts in batches while two nodes keep claiming without being blocked")
    func pruningUnderLoad() async throws {
        try await Cluster.with { cluster in
            try await cluster.pool.withConnection { connection in
                _ = try await connection.query(
                    PostgresStatement(
                        name: "old",
                        sql: """
                            INSERT INTO async_task_attempts (target, method_name, status, completed_at, created_at, num_attempts)
                            SELECT 'OrderClient', 'fulfill', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
                                   now() - interval '40 days', now() - interval '40 days', 1
                            FROM generate_series(1, 30000) g
                            """, isPrepared: false))
                _ = try await connection.query(
                    PostgresStatement(
                        name: "recent",
                        sql: """
                            INSERT INTO async_task_attempts (target, method_name, status, completed_at, num_attempts)
                            SELECT 'OrderClient', 'fulfill', 'succeeded', now() - interval '1 day', 1 FROM generate_series(1, 100)
                            """, isPrepared: false))
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE completed_at < now() - interval '7 days'") == 30_000)
            let ids = try await cluster.enqueue(1500)
            let retention = "retention: { interval: 300ms, succeeded: 7d, failed: 30d }"
            for _ in 0..<2 { try cluster.startWorker(node: ["concurrency: 50"], extra: [retention]) }

            // Meanwhile, a producer keeps enqueuing and a claim-shaped query keeps taking rows; neither may wait.
            // "Wait" is checked where it happens: no backend is ever blocked by the pruner's DELETE (sampled after
            // every probe), and, more loosely, no probe takes long (a busy 2-core machine stretches any latency).
            var worst = Duration.zero
            var blockedByPruner = 0
            var produced = 0
            let clock = ContinuousClock()
            while try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE completed_at < now() - interval '7 days'") > 0 {
                let elapsed = try await clock.measure {
                    try await cluster.pool.withTransaction { connection in
                        _ = try await connection.query(
                            PostgresStatement(
                                name: "claim_probe",
                                sql: """
                                    SELECT id FROM async_task_attempts WHERE status = 'pending' AND available_at <= now()
                                    ORDER BY priority, available_at, id LIMIT 10 FOR UPDATE SKIP LOCKED
                                    """))
                    }
                    _ = try await cluster.enqueue(1)
                }
                produced += 1
                worst = max(worst, elapsed)
                blockedByPruner = max(blockedByPruner, try await cluster.scalar(Self.blockedByPrunerSQL))
                try await Task.sleep(for: .milliseconds(20))
                #expect(produced < 2000, "retention never finished")
                if produced >= 2000 { break }
            }
            #expect(blockedByPruner == 0, "\(blockedByPruner) backends waited on a lock the pruner held")
            // Loose: a CI run with the ordered-keys chaos test beside it on the shared server saw one 7.8 s probe
            // (durable commits behind the other tests' WAL) with no backend waiting on the pruner.
            #expect(worst < .seconds(15), "a claim or an enqueue waited \(worst) while pruning ran")
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE completed_at < now() - interval '7 days'") == 0)
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE completed_at BETWEEN now() - interval '2 days' AND now() - interval '12 hours'")
                    == 100,
                "attempts within their retention are kept")
            try await eventually("the load's attempts all succeed", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids]) == ids.count
            }
            // The pruning node logs once its round is over (just after the last batch).
            try await eventually("a node logs its pruning round", timeout: .seconds(10)) {
                cluster.workers.contains { $0.stderr.contains("retention: deleted finished attempts") }
            }
        }
    }
}
