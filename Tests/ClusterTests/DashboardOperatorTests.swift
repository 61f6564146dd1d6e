import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What operators see of real worker processes: the try history (CLI, API, page), the dashboard while
/// PostgreSQL is down, and the dashboard's bulk actions, views and charts in a real browser behind a read token.
@Suite("Operating a cluster: tries, outages, bulk actions and charts", .serialized)
struct DashboardOperatorTests {
    static let token = "cluster-test-admin-token-4f1c"
    static let readToken = "cluster-test-read-token-77aa"

    func get(_ url: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String, headers: [String: String]) {
        var request = URLRequest(url: URL(string: url)!)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] { fields[String(describing: name).lowercased()] = String(describing: value) }
        return (http?.statusCode ?? 0, String(decoding: data, as: UTF8.self), fields)
    }

    /// `2026-12-02T01:18:36.123Z`.
    static func isMillisecondTimestamp(_ text: String?) -> Bool {
        guard let text else { return false }
        return (try? #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/#.wholeMatch(in: text)) != nil
    }

    @Test("every try is recorded in the outcome flush, the newest 10 kept, for user attempts and @webhook deliveries; CLI, API and page show them")
    func tryHistory() async throws {
        let webhooks = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-webhooks-\(UUID().uuidString.prefix(8)).jsonl")
        defer { try? FileManager.default.removeItem(at: webhooks) }
        try await Cluster.with(targetArguments: ["--webhook-record", webhooks.path]) { cluster in
            let webhookURL = cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/webhook")
            let worker = try cluster.startWorker(
                target: ["max_attempts: 13"],
                extra: [
                    "admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }",
                    "webhook: { url: \"\(webhookURL)\", secret: webhook-secret-0123456789, events: [attempt.failed] }",
                ])
            let admin = try await cluster.adminURL(of: worker)
            let failing = try await cluster.enqueue(1, method: "charge", arguments: { _ in #"{"_status":503}"# })[0]
            let fine = try await cluster.enqueue(1)[0]
            try await eventually("the 503 attempt fails after 13 tries and its webhook is delivered", timeout: .seconds(60)) {
                let failed = try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed'", [failing])
                let delivered = try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE target = '@webhook' AND status = 'succeeded'")
                return failed == 1 && delivered == 1
            }
            #expect(try await cluster.scalar("SELECT jsonb_array_length(tries) FROM async_task_attempts WHERE id = $1", [failing]) == 10)

            // The API: the newest ten tries, 4…13, with node, start (ms), duration, outcome, kind, status.
            let detail = try await get(admin + "/api/attempts/\(failing)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(detail.body.utf8)) as? [String: Any])
            let tries = try #require(object["tries"] as? [[String: Any]])
            #expect(tries.compactMap { ($0["try"] as? NSNumber)?.intValue } == Array(4...13))
            #expect(tries.compactMap { $0["outcome"] as? String } == Array(repeating: "retry", count: 9) + ["failed"])
            let nodeID = try await cluster.pool.query(PostgresStatement(name: "node", sql: "SELECT id::text AS id FROM async_task_nodes")).single()
                .decode(String.self, "id")
            #expect(
                tries.allSatisfy {
                    $0["node"] as? String == nodeID && ($0["http_status"] as? NSNumber)?.intValue == 503
                        && $0["error_kind"] as? String == "http_status"
                })
            #expect(tries.allSatisfy { ($0["excerpt"] as? String)?.contains(#"{"error":"scripted"}"#) == true }, "\(tries)")
            #expect(tries.allSatisfy { Self.isMillisecondTimestamp($0["started_at"] as? String) }, "\(tries)")
            #expect(tries.allSatisfy { (($0["duration_ms"] as? NSNumber)?.doubleValue ?? -1) >= 0 })
            #expect((object["effective_max_attempts"] as? NSNumber)?.intValue == 13)
            #expect(object["last_error_kind"] as? String == "http_status")
            #expect(object["last_error_current"] as? Bool == true)
            #expect(Self.isMillisecondTimestamp(object["created_at"] as? String))

            // The CLI: one id gives one object, two ids an array; the text form lists the tries.
            let cli = CommandRunner()
            let one = try await cli.run(["attempts", "show", String(fine), "--json", "--database-url", cluster.database.url])
            #expect(one.exitCode == 0, "\(one.stderr)")
            let shown = try #require(try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any], "\(one.stdout)")
            let fineTries = shown["tries"] as? [[String: Any]] ?? []
            #expect(
                fineTries.count == 1 && fineTries.first?["outcome"] as? String == "succeeded"
                    && (fineTries.first?["http_status"] as? NSNumber)?.intValue == 200)
            let two = try await cli.run(["attempts", "show", String(fine), String(failing), "--json", "--database-url", cluster.database.url])
            #expect((try JSONSerialization.jsonObject(with: Data(two.stdout.utf8)) as? [Any])?.count == 2)
            let text = try await cli.run(["attempts", "show", String(failing), "--database-url", cluster.database.url])
            #expect(
                text.stdout.contains("tries (the newest 10 are kept)") && text.stdout.contains("13/13")
                    && text.stdout.contains("13 (target default)"), "\(text.stdout)")
            // Each try's row carries its kind, HTTP status and the response excerpt.
            let lastTry = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("13/13 ") }, "\(text.stdout)")
            #expect(
                lastTry.contains("failed") && lastTry.contains("http_status") && lastTry.contains("503")
                    && lastTry.contains(#"{"error":"scripted"}"#), "\(lastTry)")

            // The @webhook delivery has its try too, and listings leave it out unless asked.
            let delivery = try await cluster.scalar("SELECT id FROM async_task_attempts WHERE target = '@webhook'")
            #expect(try await cluster.scalar("SELECT jsonb_array_length(tries) FROM async_task_attempts WHERE id = $1", [delivery]) == 1)
            let users = try await get(admin + "/api/attempts")
            #expect(!users.body.contains("@webhook"))
            let all = try await get(admin + "/api/attempts?include_internal=true")
            #expect(all.body.contains("\"target\":\"@webhook\""))
            let list = try await cli.run(["attempts", "list", "--database-url", cluster.database.url])
            #expect(!list.stdout.contains("@webhook"), "\(list.stdout)")
            let listAll = try await cli.run(["attempts", "list", "--include-internal", "--database-url", cluster.database.url])
            #expect(listAll.stdout.contains("@webhook"), "\(listAll.stdout)")
            let stats = try await cli.run(["stats", "--database-url", cluster.database.url])
            let statsAll = try await cli.run(["stats", "--include-internal", "--database-url", cluster.database.url])
            #expect(!stats.stdout.contains("@webhook") && statsAll.stdout.contains("@webhook"), "\(stats.stdout)\n\(statsAll.stdout)")

            // The page: the timeline and the table of tries.
            let page = try await get(admin + "/attempts/\(failing)")
            #expect(page.body.contains("id=\"timeline\"") && page.body.contains("<tr data-try=\"13\">"))
            let row = try #require(
                page.body.components(separatedBy: "<tr data-try=\"13\">").dropFirst().first?.components(separatedBy: "</tr>").first)
            #expect(
                row.contains("<td>http_status</td>") && row.contains(">503<") && row.contains("{&quot;error&quot;:&quot;scripted&quot;}"), "\(row)")
            #expect(page.body.contains("data-field=\"max_attempts\">13 (target default)"))

            // Before its first try an attempt shows the limit the live node will apply (its target's
            // max_attempts, which the node stored when it registered): in the CLI, the API, the page and listings.
            let later = try await cluster.enqueue(1, scheduledAt: Date().addingTimeInterval(3600))[0]
            let before = try await cli.run(["attempts", "show", String(later), "--database-url", cluster.database.url])
            #expect(before.stdout.contains("13 (target default of the live nodes serving OrderClient; no try recorded yet)"), "\(before.stdout)")
            let listed = try await cli.run(["attempts", "list", "--database-url", cluster.database.url])
            let laterRow = listed.stdout.split(separator: "\n").first { $0.hasPrefix("\(later) ") }
            #expect(laterRow?.contains(" 0/13 ") == true, "\(listed.stdout)")
            let beforeAPI = try #require(
                try JSONSerialization.jsonObject(with: Data(try await get(admin + "/api/attempts/\(later)").body.utf8)) as? [String: Any])
            #expect((beforeAPI["effective_max_attempts"] as? NSNumber)?.intValue == 13, "\(beforeAPI)")
            #expect(beforeAPI["effective_max_attempts_source"] as? String == "live_nodes", "\(beforeAPI)")
            #expect(beforeAPI["target_max_attempts"] as? [Int] == [13], "\(beforeAPI)")
            let beforePage = try await get(admin + "/attempts/\(later)")
            #expect(beforePage.body.contains("data-field=\"max_attempts\">13 (target default of the live nodes serving OrderClient"))
            #expect(try await get(admin + "/attempts?state=scheduled").body.contains("data-field=\"tries\">0/13<"))
            // Once the node has stopped its default no longer counts.
            worker.send(SIGTERM)
            #expect(await worker.waitForExit(timeout: .seconds(60)) == 0)
            let stopped = try await cli.run(["attempts", "show", String(later), "--database-url", cluster.database.url])
            #expect(stopped.stdout.contains("no try recorded yet and no live node serves OrderClient"), "\(stopped.stdout)")
            // The next node to register drops the stopped node's entry, so the settings row stays one entry per node.
            try cluster.startWorker(target: ["max_attempts: 7"])
            try await eventually("the new node's defaults replace the stopped node's", timeout: .seconds(30)) {
                try await cluster.scalar(
                    """
                    SELECT count(*) FROM async_task_settings s, jsonb_each(s.value) e
                    WHERE s.key = 'node_targets' AND (e.value -> 'OrderClient' ->> 'max_attempts')::int = 7
                      AND NOT EXISTS (SELECT 1 FROM jsonb_each(s.value) o WHERE o.key <> e.key)
                    """) == 1
            }
            let restarted = try await cli.run(["attempts", "show", String(later), "--database-url", cluster.database.url])
            #expect(restarted.stdout.contains("7 (target default of the live nodes serving OrderClient"), "\(restarted.stdout)")
        }
    }

    @Test("while PostgreSQL is down the dashboard says since when, with what the node knows (in flight, targets, buffered outcomes)")
    func dashboardDuringOutage() async throws {
        let server = try await PostgresServer.start()
        do {
            // Calls of 20 s: stopping PostgreSQL and reading the page must happen while they run, on a loaded machine
            // too (a CI run under load once took over 8 s from the calls' start to the page).
            try await Cluster.with(targetArguments: ["--delay-ms", "20000"], server: server.url) { cluster in
                let worker = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"])
                let admin = try await cluster.adminURL(of: worker)
                #expect(try await get(admin + "/").status == 200)
                let ids = try await cluster.enqueue(3)
                try await eventually("3 calls in flight", timeout: .seconds(20), every: .milliseconds(20)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 3
                }
                let stoppedAt = Date()
                try await server.control("stop", mode: "fast")
                let during = try await get(admin + "/")
                #expect(during.status == 503)
                #expect(during.body.contains("The database is unreachable") && during.body.contains("id=\"unreachable-since\""), "\(during.body)")
                #expect(during.body.contains("data-field=\"targets\">OrderClient"))
                #expect(during.body.contains("data-field=\"in_flight\">3"), "the calls still run")
                let api = try await get(admin + "/api/attempts")
                #expect(api.status == 503)
                let report = try JSONSerialization.jsonObject(with: Data(api.body.utf8)) as? [String: Any]
                let since = (report?["unreachable_since"] as? String).flatMap {
                    try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0)
                }
                #expect(since.map { $0 >= stoppedAt.addingTimeInterval(-1) && $0 <= Date() } == true, "\(api.body)")
                // The calls end during the outage: their outcomes wait in the node's memory, and the page says so.
                try await eventually("3 outcomes buffered", timeout: .seconds(40)) {
                    try await get(admin + "/attempts").body.contains("data-field=\"buffered_outcomes\">3 (kept in memory")
                }
                try await server.control("start")
                try await eventually("the page is back and the outcomes are written", timeout: .seconds(60)) {
                    let page = try? await get(admin + "/").status
                    let written = try? await cluster.scalar(
                        "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids])
                    return page == 200 && written == 3
                }
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    @Test("a page opened late in an outage says when the node lost the database, not when the page was asked for")
    func outageSinceOnLateVisit() async throws {
        let server = try await PostgresServer.start()
        do {
            try await Cluster.with(server: server.url) { cluster in
                let worker = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\" }"])
                let admin = try await cluster.adminURL(of: worker)
                try await eventually("the node heartbeats", timeout: .seconds(30)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 1
                }
                #expect(try await get(admin + "/").status == 200)
                let stoppedAt = Date()
                try await server.control("stop", mode: "fast")
                // The node's heartbeats (every 300 ms) notice at once; nobody asks the admin server for 6 s.
                try await eventually("the node's heartbeat fails", timeout: .seconds(30)) { worker.stderr.contains("heartbeat failed") }
                let noticedAt = Date()
                try await Task.sleep(for: .seconds(6))
                let visitedAt = Date()
                let page = try await get(admin + "/")
                #expect(page.status == 503 && page.body.contains("id=\"unreachable-since\""), "\(page.body)")
                let api = try await get(admin + "/api/stats")
                #expect(api.status == 503)
                let report = try JSONSerialization.jsonObject(with: Data(api.body.utf8)) as? [String: Any]
                let since = try #require(
                    (report?["unreachable_since"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) },
                    "\(api.body)")
                // The node's first failed heartbeat: after the stop began, before its log line was seen, so seconds
                // before the visit (the admin server alone would say the visit's time).
                #expect(
                    since >= stoppedAt.addingTimeInterval(-1) && since <= noticedAt.addingTimeInterval(1),
                    "since \(since), stopped \(stoppedAt), noticed \(noticedAt)")
                #expect(since < visitedAt.addingTimeInterval(-4), "since \(since), visited \(visitedAt)")
                let shown = try #require(
                    page.body.components(separatedBy: "id=\"unreachable-since\">").dropFirst().first?.components(separatedBy: "<").first)
                // The page shows the same time (to the second, `2026-12-02 01:18:36Z`).
                let shownDate = try? Date.ISO8601FormatStyle().parse(shown.replacingOccurrences(of: " ", with: "T"))
                #expect(shownDate.map { abs($0.timeIntervalSince(since)) < 1 } == true, "page \(shown), API \(since)")
                try await server.control("start")
                try await eventually("the page is back", timeout: .seconds(60)) { (try? await get(admin + "/").status) == 200 }
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    @Test(
        "in headless Chromium behind a read token: charts with axes, scheduled and retrying views (with rows), a confirmed bulk retry, expire and fail (with its reason), the try timeline, pause and resume on the targets page",
        .enabled(if: HeadlessChromium.shouldRun, "chromium is not installed (scripts/ensure-deps.sh installs it; set CI to make this a failure)"))
    func dashboardBulkInBrowser() async throws {
        let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("artifacts")
        try await Cluster.with { cluster in
            let worker = try cluster.startWorker(extra: [
                "admin: { listen: \"127.0.0.1:0\", token: \"\(Self.token)\", read_token: \"\(Self.readToken)\" }"
            ])
            let admin = try await cluster.adminURL(of: worker)
            // Without the read token the pages are refused (the browser is asked for Basic credentials); probes are open.
            // curl, not URLSession: FoundationNetworking does not hand a Basic challenge's 401 back to the caller.
            let refused = try await ChildProcess.run(["/usr/bin/curl", "-sS", "-i", admin + "/"], timeout: .seconds(20))
            #expect(refused.stdout.hasPrefix("HTTP/1.1 401") && refused.stdout.lowercased().contains("www-authenticate: basic"), "\(refused.stdout)")
            #expect(try await get(admin + "/healthz").status == 200)
            #expect(try await get(admin + "/api/stats").status == 401)
            #expect(try await get(admin + "/api/stats", headers: ["Authorization": "Bearer \(Self.readToken)"]).status == 200)

            _ = try await cluster.enqueue(30, arguments: { n in #"{"order_number":\#(n),"_delay_ms":\#(n % 5 * 20)}"# })
            let failing = try await cluster.enqueue(4, method: "charge", arguments: { _ in #"{"_status":422}"# })
            let later = try await cluster.enqueue(2, scheduledAt: Date().addingTimeInterval(3600))
            // Three that answer 503 with Retry-After: an hour, so after their first try they wait in the retrying view.
            let retrying = try await cluster.enqueue(3, method: "refund", arguments: { _ in #"{"_status":503,"_retry_after":"3600"}"# })
            try await eventually("30 succeed, 4 fail and 3 wait for a retry", timeout: .seconds(30)) {
                let counts = try await cluster.statusCounts()
                let waiting = try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND num_attempts = 1 AND locked_by IS NULL", [retrying])
                return counts["succeeded"] == 30 && counts["failed"] == 4 && waiting == 3
            }
            let browser = try await HeadlessChromium()
            do {
                let basic = Data("operator:\(Self.readToken)".utf8).base64EncodedString()
                try await browser.send("Network.enable")
                try await browser.send("Network.setExtraHTTPHeaders", ["headers": ["Authorization": "Basic \(basic)"]])
                try await browser.navigate(admin + "/")
                func figure(_ name: String) async throws -> String? {
                    try await browser.evaluate("document.querySelector('[data-figure=\"\(name)\"][data-target=\"OrderClient\"]')?.textContent")
                        as? String
                }
                #expect(try await figure("chart-succeeded") == "30")
                #expect(try await figure("chart-failed") == "4")
                #expect(try await figure("chart-latency")?.hasSuffix("ms") == true)
                #expect(try await figure("chart-lag")?.hasSuffix("ms") == true)
                #expect(try await figure("chart-lag-max")?.hasSuffix("ms") == true)
                let charts = try await browser.evaluate("document.querySelectorAll('#charts svg').length") as? Int
                #expect(charts == 3, "finished, lag and latency for the one target")
                // Every chart has a value axis starting at 0 (counts, then milliseconds) and five time labels.
                for (chart, zero) in [(0, "0 "), (1, "0 ms "), (2, "0 ms ")] {
                    let yLabels =
                        try await browser.evaluate(
                            "[...document.querySelectorAll('#charts svg')[\(chart)].querySelectorAll('[data-axis=y]')].map(e => e.textContent).join(' ')"
                        )
                        as? String
                    #expect(yLabels?.hasPrefix(zero) == true, "chart \(chart): \(yLabels ?? "")")
                    let xLabels =
                        try await browser.evaluate("document.querySelectorAll('#charts svg')[\(chart)].querySelectorAll('[data-axis=x]').length")
                        as? Int
                    #expect(xLabels == 5, "chart \(chart)")
                }
                #expect(try await browser.evaluate("document.querySelector('#internal-none') !== null") as? Bool == true)
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-charts-1h.png"))
                try await browser.navigate(admin + "/?window=24h")
                #expect(try await figure("chart-succeeded") == "30")
                #expect(try await figure("chart-failed") == "4")
                #expect(try await figure("chart-latency")?.hasSuffix("ms") == true)
                #expect(try await figure("chart-lag")?.hasSuffix("ms") == true)
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-charts-24h.png"))

                // Scheduled view: tick both, expire them through review and confirmation.
                try await browser.navigate(admin + "/attempts?state=scheduled")
                let scheduledRows =
                    try await browser.evaluate("[...document.querySelectorAll('#attempts tr[data-attempt]')].map(r => +r.dataset.attempt).sort()")
                    as? [Int]
                #expect(scheduledRows == later.map { Int($0) }.sorted())
                _ = try await browser.evaluate(
                    """
                    document.querySelectorAll('#attempts input[type=checkbox]').forEach(c => c.checked = true);
                    document.querySelector('#bulk-action').value = 'expire';
                    document.querySelector('#bulk-review').click(); true
                    """)
                try await browser.waitForPage { $0.hasSuffix("/attempts/bulk") }
                #expect(try await browser.evaluate("document.querySelector('#bulk-count').textContent") as? String == "2")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#bulk-confirm input[name=token]').value = '\(Self.token)';
                    document.querySelector('#confirm-button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/attempts?done=expire&changed=2") }
                #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'expired'", [later]) == 2)

                // Retrying view: the three 503s (the 422s failed at once), each after one try of 12, with its error.
                try await browser.navigate(admin + "/attempts?state=retrying")
                let retryingRows =
                    try await browser.evaluate(
                        "[...document.querySelectorAll('#attempts tr[data-attempt]')].map(r => +r.dataset.attempt).sort((a, b) => a - b)") as? [Int]
                #expect(retryingRows == retrying.map { Int($0) }.sorted())
                #expect(
                    try await browser.evaluate("[...document.querySelectorAll('#attempts [data-field=tries]')].map(e => e.textContent).join(',')")
                        as? String == "1/12,1/12,1/12")
                let retryErrors =
                    try await browser.evaluate("[...document.querySelectorAll('#attempts [data-field=last_error]')].map(e => e.textContent)")
                    as? [String]
                #expect(retryErrors?.count == 3 && retryErrors?.allSatisfy { $0.contains("503") } == true, "\(retryErrors ?? [])")
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-retrying.png"))

                // Failed view: retry every match of the filter, confirmed with the token.
                try await browser.navigate(admin + "/attempts?status=failed")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#scope-filter').checked = true;
                    document.querySelector('#bulk-action').value = 'retry';
                    document.querySelector('#bulk-review').click(); true
                    """)
                try await browser.waitForPage { $0.hasSuffix("/attempts/bulk") }
                #expect(try await browser.evaluate("document.querySelector('#bulk-count').textContent") as? String == "4")
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-bulk-confirm.png"))
                #expect(
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'failed'", [failing]) == 4,
                    "reviewing changes nothing")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#bulk-confirm input[name=token]').value = '\(Self.token)';
                    document.querySelector('#confirm-button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/attempts?done=retry&changed=4") }
                let notice = try await browser.evaluate("document.querySelector('#notice')?.textContent") as? String
                #expect(notice == "retry applied to 4 attempt(s).", "\(notice ?? "no notice")")
                try await eventually("the retried attempts run again (and fail again on 422)", timeout: .seconds(20)) {
                    try await cluster.scalar(
                        "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'failed' AND num_attempts = 2", [failing]) == 4
                }

                // Retrying view again: tick the three, fail them with a reason through review and confirmation.
                try await browser.navigate(admin + "/attempts?state=retrying")
                _ = try await browser.evaluate(
                    """
                    document.querySelectorAll('#attempts input[type=checkbox]').forEach(c => c.checked = true);
                    document.querySelector('#bulk-action').value = 'fail';
                    document.querySelector('#bulk-review').click(); true
                    """)
                try await browser.waitForPage { $0.hasSuffix("/attempts/bulk") }
                #expect(try await browser.evaluate("document.querySelector('#bulk-count').textContent") as? String == "3")
                #expect(
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'pending'", [retrying]) == 3,
                    "reviewing changes nothing")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#bulk-confirm input[name=token]').value = '\(Self.token)';
                    document.querySelector('#bulk-confirm input[name=reason]').value = 'refunds handled by hand';
                    document.querySelector('#confirm-button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/attempts?done=fail&changed=3") }
                #expect(try await browser.evaluate("document.querySelector('#notice')?.textContent") as? String == "fail applied to 3 attempt(s).")
                #expect(
                    try await cluster.scalar(
                        "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'failed' AND last_error LIKE '%refunds handled by hand%' AND completed_at IS NOT NULL",
                        [retrying]) == 3, "bulk fail from the form keeps the reason")
                try await browser.navigate(admin + "/attempts?state=retrying")
                #expect(try await browser.evaluate("document.querySelectorAll('#attempts tr[data-attempt]').length") as? Int == 0)

                // The attempt page: two tries on the timeline and in the table.
                try await browser.navigate(admin + "/attempts/\(failing[0])")
                #expect(try await browser.evaluate("document.querySelectorAll('#timeline rect[data-try]').length") as? Int == 2)
                #expect(
                    try await browser.evaluate(
                        "[...document.querySelectorAll('#tries-table [data-field=outcome]')].map(e => e.textContent).join(',')") as? String
                        == "failed,failed")
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-attempt-tries.png"))

                // The targets page: pause OrderClient with its button (and the token), then resume it.
                try await browser.navigate(admin + "/targets")
                func state() async throws -> String? {
                    try await browser.evaluate("document.querySelector('#targets tr[data-target=\"OrderClient\"] [data-figure=state]')?.textContent")
                        as? String
                }
                #expect(try await state() == "running")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#pause-OrderClient input[name=token]').value = '\(Self.token)';
                    document.querySelector('#pause-OrderClient button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/targets?done=pause&target=OrderClient") }
                let paused = try await state()
                #expect(paused?.hasPrefix("paused") == true, "\(paused ?? "no state")")
                #expect(
                    try await cluster.scalar(
                        "SELECT count(*) FROM async_task_targets WHERE target = 'OrderClient' AND paused AND paused_by = 'dashboard'") == 1)
                try await browser.screenshot(to: artifacts.appendingPathComponent("dashboard-targets-paused.png"))
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#resume-OrderClient input[name=token]').value = 'wrong-token';
                    document.querySelector('#resume-OrderClient button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/targets/OrderClient/resume") }
                #expect(
                    try await cluster.scalar("SELECT count(*) FROM async_task_targets WHERE target = 'OrderClient' AND paused") == 1,
                    "a wrong token changes nothing")
                try await browser.navigate(admin + "/targets")
                _ = try await browser.evaluate(
                    """
                    document.querySelector('#resume-OrderClient input[name=token]').value = '\(Self.token)';
                    document.querySelector('#resume-OrderClient button').click(); true
                    """)
                try await browser.waitForPage { $0.contains("/targets?done=resume&target=OrderClient") }
                #expect(try await state() == "running")
                #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets WHERE target = 'OrderClient' AND paused") == 0)
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
        }
    }
}
