import AsyncTask
import Foundation

/// The dashboard's HTML: one self-contained page per view, inline CSS and SVG, no scripts and no external
/// assets, so it works offline and under a strict Content-Security-Policy.
///
/// Figures carry `data-figure` / `data-target` attributes so tests (and scrapers) can read them unambiguously.
enum DashboardPage {
    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
        header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:baseline}
        header a{color:#cfe0ff;text-decoration:none}header h1{font-size:18px;margin:0}
        main{padding:16px 20px;max-width:1300px}
        section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;margin-bottom:16px}
        h2{font-size:15px;margin:0 0 10px}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
        th{font-weight:600;color:#5a6272}td.n{text-align:right;font-variant-numeric:tabular-nums}
        .ok{color:#187a3c}.warning{color:#a86400}.problem,.failed{color:#b3261e}.pending{color:#2455a4}.expired{color:#6b6b6b}.succeeded{color:#187a3c}
        .err{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;max-width:700px;overflow-wrap:anywhere}
        form.inline{display:inline-block;margin-right:12px}input,select,button{font:inherit;padding:3px 6px}
        .chart{display:flex;gap:24px;flex-wrap:wrap}.chart figure{margin:0}.chart figcaption{font-weight:600;margin-bottom:4px}
        .notice{padding:8px 12px;border-radius:4px;background:#e7f4ea;border:1px solid #b7dfc0}.alert{background:#fdecea;border-color:#f3b9b3}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{color:#5a6272}dd{margin:0}
        .tabs a{margin-right:14px}.tabs a.on{font-weight:700;text-decoration:none;color:#1d2330}
        .key{margin-right:12px;font-size:12px;color:#4a5262}.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
        .chartrow{display:flex;gap:18px;flex-wrap:wrap;margin-bottom:14px}.chartrow figure{margin:0}.chartrow figcaption{font-size:12px;margin-bottom:2px}
        .muted{color:#7a8292}
        """

    /// Wraps `body` in the page chrome.
    static func page(title: String, nodeID: String, draining: Bool, refresh: Int? = nil, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title)) · asynctask</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        \(refresh.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? "")
        <style>\(style)</style></head>
        <body><header><h1>asynctask</h1><a href="/">Overview</a><a href="/attempts">Attempts</a>
        <a href="/attempts?status=failed">Failures</a><a href="/attempts?state=scheduled">Scheduled</a>
        <a href="/attempts?state=retrying">Retrying</a><a href="/targets">Targets</a><a href="/metrics">Metrics</a>
        <span style="margin-left:auto;color:#9aa3b2">node \(HTML.escape(nodeID))\(draining ? " · <b>draining</b>" : "")</span></header>
        <main>\(body)</main></body></html>
        """
    }

    /// The overview: per-target figures, charts over 1 h or 24 h, nodes, doctor findings, recent failures, search.
    /// Internal deliveries (`@webhook`) have a table of their own and join the charts only when asked.
    static func overview(
        stats: [ClusterStats.TargetStats], webhooks: [ClusterStats.TargetStats], series: ClusterStats.Series, includeInternal: Bool,
        nodes: [ClusterNodes.NodeInfo], failures: [AttemptView], findings: [Doctor.Finding], now: Date
    ) -> String {
        var html = "<section><h2>Queues</h2>"
        html += stats.isEmpty ? "<p>No pending attempts and none finished in the last hour.</p>" : queuesTable(stats, id: "queues")
        html += "</section>"
        html += "<section><h2>Webhook deliveries (internal target, not user attempts)</h2>"
        html +=
            webhooks.isEmpty
            ? "<p id=\"internal-none\">No webhook deliveries pending or finished in the last hour.</p>" : queuesTable(webhooks, id: "internal-queues")
        html += "<p><a href=\"/attempts?target=\(HTML.queryValue(Schema.webhookTarget))\">List webhook deliveries</a></p></section>"
        html += charts(series, includeInternal: includeInternal, now: now)
        html += "<section><h2>Nodes</h2>" + nodesTable(nodes) + "</section>"
        html += "<section><h2>Doctor</h2>"
        if findings.isEmpty { html += "<p class=\"ok\" id=\"doctor-ok\">Every check passes.</p>" }
        html += "<table id=\"doctor\">"
        for finding in findings {
            html +=
                "<tr><td class=\"\(finding.severity.rawValue)\">\(finding.severity.rawValue)</td><td>\(HTML.escape(finding.check))</td><td>\(HTML.escape(finding.message))</td></tr>"
        }
        html += "</table></section>"
        html += "<section><h2>Recent failures</h2>" + attemptsTable(failures, showError: true, selectable: false) + "</section>"
        html += searchForm(AttemptFilter())
        return html
    }

    static func queuesTable(_ stats: [ClusterStats.TargetStats], id: String) -> String {
        var html =
            "<table id=\"\(id)\"><tr><th>Target</th><th>Pending</th><th>Due</th><th>Running</th><th>Lag</th><th>Succeeded (1 h)</th><th>Failed (1 h)</th><th>Rate (/s, 5 min)</th></tr>"
        for row in stats {
            let target = HTML.escape(row.target)
            func cell(_ figure: String, _ value: String) -> String {
                "<td class=\"n\" data-figure=\"\(figure)\" data-target=\"\(target)\">\(value)</td>"
            }
            html += "<tr><td><a href=\"/attempts?target=\(HTML.queryValue(row.target))\">\(target)</a></td>"
            html += cell("pending", String(row.pending)) + cell("due", String(row.due)) + cell("running", String(row.running))
            html += cell("lag", ElapsedTimeText.describe(row.lagSeconds)) + cell("succeeded", String(row.succeededLastHour))
            html += cell("failed", String(row.failedLastHour)) + cell("rate", String(format: "%.2f", row.ratePerSecond)) + "</tr>"
        }
        return html + "</table>"
    }

    /// Per target: finished attempts (succeeded and failed, stacked), pickup lag and call latency per bucket.
    static func charts(_ series: ClusterStats.Series, includeInternal: Bool, now: Date) -> String {
        let window = series.window
        let bucketName = window.bucketSeconds == 60 ? "minute" : "\(window.bucketSeconds / 60) minutes"
        var html = "<section id=\"charts\"><h2>Last \(window == .hour ? "hour" : "24 hours") per target, per \(bucketName)</h2><p class=\"tabs\">"
        for option in ClusterStats.Window.allCases {
            let link = "/?window=\(option.rawValue)\(includeInternal ? "&include_internal=1" : "")"
            html +=
                "<a href=\"\(HTML.escape(link))\"\(option == window ? " class=\"on\"" : "") id=\"window-\(option.rawValue)\">\(option.rawValue)</a>"
        }
        let toggle = "/?window=\(window.rawValue)\(includeInternal ? "" : "&include_internal=1")"
        html += "<a href=\"\(HTML.escape(toggle))\" id=\"toggle-internal\">\(includeInternal ? "hide" : "include") webhook deliveries</a></p>"
        if let from = series.completeFrom {
            html +=
                "<p class=\"notice alert\" id=\"charts-partial\">More than \(series.rowCap) attempts of one status finished in this window: the charts count the newest only, from \(HTML.time(from)) (the shaded part is incomplete).</p>"
        }
        let buckets = SVGChart.buckets(count: window.buckets, seconds: window.bucketSeconds, now: now)
        let byTarget = Dictionary(grouping: series.points, by: \.target)
        if byTarget.isEmpty { html += "<p id=\"charts-empty\">Nothing finished in this window.</p>" }
        for target in byTarget.keys.sorted() {
            var points = [ClusterStats.SeriesPoint?](repeating: nil, count: buckets.count)
            for point in byTarget[target] ?? [] {
                let index = Int((point.bucket.timeIntervalSince(buckets[0]) / Double(window.bucketSeconds)).rounded())
                if points.indices.contains(index) { points[index] = point }
            }
            let escaped = HTML.escape(target)
            let succeeded = points.reduce(0) { $0 + ($1?.succeeded ?? 0) }
            let failed = points.reduce(0) { $0 + ($1?.failed ?? 0) }
            let finished = [
                SVGChart.Series(name: "succeeded", color: "#2e9e57", values: points.map { $0.map { Double($0.succeeded) } ?? 0 }),
                SVGChart.Series(name: "failed", color: "#d0443a", values: points.map { $0.map { Double($0.failed) } ?? 0 }),
            ]
            let lag = [
                SVGChart.Series(name: "mean", color: "#2455a4", values: points.map { $0?.lagAvgSeconds }),
                SVGChart.Series(name: "max", color: "#9bb5e0", values: points.map { $0?.lagMaxSeconds }),
            ]
            let latency = [
                SVGChart.Series(name: "mean", color: "#8a4fbf", values: points.map { $0?.latencyAvgMs }),
                SVGChart.Series(name: "p95", color: "#cfa6ee", values: points.map { $0?.latencyP95Ms }),
            ]
            let latencyValues = points.compactMap { $0?.latencyAvgMs }
            let latencyMean = latencyValues.isEmpty ? "–" : milliseconds(latencyValues.reduce(0, +) / Double(latencyValues.count))
            html += "<h3 style=\"font-size:14px;margin:6px 0\">\(escaped)</h3><div class=\"chartrow\" data-chart-target=\"\(escaped)\">"
            html +=
                "<figure><figcaption>Finished per \(bucketName): <span data-figure=\"chart-succeeded\" data-target=\"\(escaped)\">\(succeeded)</span> succeeded, <span data-figure=\"chart-failed\" data-target=\"\(escaped)\">\(failed)</span> failed · \(SVGChart.legend(finished))</figcaption>"
            html +=
                SVGChart.render(
                    label: "\(target) finished per \(bucketName)", buckets: buckets, bucketSeconds: window.bucketSeconds, series: finished,
                    style: .stackedBars, incompleteBefore: series.completeFrom
                ) { count($0) } + "</figure>"
            let lagValues = points.compactMap { $0?.lagAvgSeconds }
            let lagMax = points.compactMap { $0?.lagMaxSeconds }.max()
            let lagMean = lagValues.isEmpty ? "–" : milliseconds(lagValues.reduce(0, +) / Double(lagValues.count) * 1000)
            html +=
                "<figure><figcaption>Pickup lag (first try's start − due time): mean <span data-figure=\"chart-lag\" data-target=\"\(escaped)\">\(lagMean)</span>, max <span data-figure=\"chart-lag-max\" data-target=\"\(escaped)\">\(lagMax.map { milliseconds($0 * 1000) } ?? "–")</span> · \(SVGChart.legend(lag))</figcaption>"
            html +=
                SVGChart.render(
                    label: "\(target) pickup lag", buckets: buckets, bucketSeconds: window.bucketSeconds, series: lag,
                    style: .lines, incompleteBefore: series.completeFrom
                ) { $0 < 10 ? milliseconds($0 * 1000) : ElapsedTimeText.describe($0) } + "</figure>"
            html +=
                "<figure><figcaption>Call latency (finishing try): mean <span data-figure=\"chart-latency\" data-target=\"\(escaped)\">\(latencyMean)</span> · \(SVGChart.legend(latency))</figcaption>"
            html +=
                SVGChart.render(
                    label: "\(target) call latency", buckets: buckets, bucketSeconds: window.bucketSeconds, series: latency,
                    style: .lines, incompleteBefore: series.completeFrom
                ) { milliseconds($0) } + "</figure></div>"
        }
        return html + "</section>"
    }

    /// A count for an axis: whole numbers as such, else one decimal.
    static func count(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    /// `12 ms`, `1.5 s`.
    static func milliseconds(_ value: Double) -> String {
        if value >= 1000 { return String(format: "%.1f s", value / 1000) }
        return value >= 10 || value == 0 ? "\(Int(value.rounded())) ms" : String(format: "%.1f ms", value)
    }

    static func nodesTable(_ nodes: [ClusterNodes.NodeInfo]) -> String {
        guard !nodes.isEmpty else { return "<p>No node has registered in the last hour.</p>" }
        var html =
            "<table id=\"nodes\"><tr><th>Node</th><th>Host</th><th>Status</th><th>Heartbeat</th><th>In flight</th><th>Leases</th><th>Targets</th><th>Version</th></tr>"
        for node in nodes {
            let id = node.id.uuidString.lowercased()
            html += "<tr data-node=\"\(id)\"><td>\(id.prefix(8))</td><td>\(HTML.escape(node.hostname)) (pid \(node.pid))</td>"
            html += "<td class=\"\(node.live ? "ok" : "problem")\">\(node.live ? "live" : "not live") · \(HTML.escape(node.status))</td>"
            html +=
                "<td>\(ElapsedTimeText.describe(node.heartbeatAgeSeconds)) ago</td><td class=\"n\">\(node.inFlight)/\(node.concurrency)</td><td class=\"n\">\(node.leases)</td>"
            html += "<td>\(HTML.escape(node.targets.joined(separator: ", ")))</td><td>\(HTML.escape(node.version))</td></tr>"
        }
        return html + "</table>"
    }

    /// A one-message page (refusals, not found).
    static func message(_ text: String, alert: Bool) -> String {
        "<p class=\"notice\(alert ? " alert" : "")\" id=\"notice\">\(HTML.escape(text))</p><p><a href=\"/\">Overview</a></p>"
    }
}
