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
        <a href="/attempts?status=failed">Failures</a><a href="/metrics">Metrics</a>
        <span style="margin-left:auto;color:#9aa3b2">node \(HTML.escape(nodeID))\(draining ? " · <b>draining</b>" : "")</span></header>
        <main>\(body)</main></body></html>
        """
    }

    /// The overview: per-target figures, throughput charts, nodes, doctor findings, recent failures, search.
    static func overview(
        stats: [ClusterStats.TargetStats], throughput: [ClusterStats.ThroughputPoint], nodes: [ClusterNodes.NodeInfo],
        failures: [AttemptView], findings: [Doctor.Finding], now: Date
    ) -> String {
        var html = "<section><h2>Queues</h2>"
        if stats.isEmpty {
            html += "<p>No pending attempts and none finished in the last hour.</p>"
        } else {
            html += "<table id=\"queues\"><tr><th>Target</th><th>Pending</th><th>Due</th><th>Running</th><th>Lag</th><th>Succeeded (1 h)</th><th>Failed (1 h)</th><th>Rate (/s, 5 min)</th></tr>"
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
            html += "</table>"
        }
        html += "</section>"
        html += "<section><h2>Throughput, last 60 minutes (succeeded green, failed red, per minute)</h2><div class=\"chart\">"
        let byTarget = Dictionary(grouping: throughput, by: \.target)
        if byTarget.isEmpty { html += "<p>Nothing finished in the last hour.</p>" }
        for target in byTarget.keys.sorted() {
            html += chart(target: target, points: byTarget[target] ?? [], now: now)
        }
        html += "</div></section>"
        html += "<section><h2>Nodes</h2>" + nodesTable(nodes) + "</section>"
        html += "<section><h2>Doctor</h2>"
        if findings.isEmpty { html += "<p class=\"ok\" id=\"doctor-ok\">Every check passes.</p>" }
        html += "<table id=\"doctor\">"
        for finding in findings {
            html += "<tr><td class=\"\(finding.severity.rawValue)\">\(finding.severity.rawValue)</td><td>\(HTML.escape(finding.check))</td><td>\(HTML.escape(finding.message))</td></tr>"
        }
        html += "</table></section>"
        html += "<section><h2>Recent failures</h2>" + attemptsTable(failures, showError: true) + "</section>"
        html += searchForm(AttemptFilter())
        return html
    }

    /// Bars per minute for one target: succeeded stacked under failed, scaled to the busiest minute.
    static func chart(target: String, points: [ClusterStats.ThroughputPoint], now: Date) -> String {
        let width = 360.0, height = 90.0, bar = width / 60
        let currentMinute = floor(now.timeIntervalSince1970 / 60) * 60
        let peak = max(1, points.map { $0.succeeded + $0.failed }.max() ?? 1)
        var svg = "<svg width=\"\(Int(width))\" height=\"\(Int(height) + 14)\" role=\"img\" aria-label=\"throughput of \(HTML.escape(target))\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#f3f5f8\"/>"
        for point in points {
            let slot = 59 - Int((currentMinute - point.minute.timeIntervalSince1970) / 60)
            guard (0..<60).contains(slot) else { continue }
            let x = Double(slot) * bar
            let okHeight = height * Double(point.succeeded) / Double(peak)
            let failHeight = height * Double(point.failed) / Double(peak)
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2e9e57\"><title>%d succeeded</title></rect>", x, height - okHeight, bar - 1, okHeight, point.succeeded)
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d0443a\"><title>%d failed</title></rect>", x, height - okHeight - failHeight, bar - 1, failHeight, point.failed)
        }
        svg += "<text x=\"0\" y=\"\(Int(height) + 12)\" font-size=\"10\" fill=\"#5a6272\">-60 min</text>"
        svg += "<text x=\"\(Int(width) - 24)\" y=\"\(Int(height) + 12)\" font-size=\"10\" fill=\"#5a6272\">now</text>"
        svg += "<text x=\"\(Int(width) - 4)\" y=\"10\" font-size=\"10\" fill=\"#5a6272\" text-anchor=\"end\">peak \(peak)/min</text></svg>"
        let total = points.reduce(0) { $0 + $1.succeeded }, failed = points.reduce(0) { $0 + $1.failed }
        return "<figure><figcaption>\(HTML.escape(target)) · <span data-figure=\"chart-succeeded\" data-target=\"\(HTML.escape(target))\">\(total)</span> ok · <span data-figure=\"chart-failed\" data-target=\"\(HTML.escape(target))\">\(failed)</span> failed</figcaption>\(svg)</figure>"
    }

    static func nodesTable(_ nodes: [ClusterNodes.NodeInfo]) -> String {
        guard !nodes.isEmpty else { return "<p>No node has registered in the last hour.</p>" }
        var html = "<table id=\"nodes\"><tr><th>Node</th><th>Host</th><th>Status</th><th>Heartbeat</th><th>In flight</th><th>Leases</th><th>Targets</th><th>Version</th></tr>"
        for node in nodes {
            let id = node.id.uuidString.lowercased()
            html += "<tr data-node=\"\(id)\"><td>\(id.prefix(8))</td><td>\(HTML.escape(node.hostname)) (pid \(node.pid))</td>"
            html += "<td class=\"\(node.live ? "ok" : "problem")\">\(node.live ? "live" : "not live") · \(HTML.escape(node.status))</td>"
            html += "<td>\(ElapsedTimeText.describe(node.heartbeatAgeSeconds)) ago</td><td class=\"n\">\(node.inFlight)/\(node.concurrency)</td><td class=\"n\">\(node.leases)</td>"
            html += "<td>\(HTML.escape(node.targets.joined(separator: ", ")))</td><td>\(HTML.escape(node.version))</td></tr>"
        }
        return html + "</table>"
    }

    static func attemptsTable(_ attempts: [AttemptView], showError: Bool) -> String {
        guard !attempts.isEmpty else { return "<p>None.</p>" }
        var html = "<table id=\"attempts\"><tr><th>ID</th><th>Status</th><th>Target</th><th>Method</th><th>Tries</th><th>Created</th><th>Completed</th>\(showError ? "<th>Last error</th>" : "")</tr>"
        for attempt in attempts {
            html += "<tr data-attempt=\"\(attempt.id)\"><td><a href=\"/attempts/\(attempt.id)\">\(attempt.id)</a></td>"
            html += "<td class=\"\(attempt.status)\">\(attempt.status)</td><td>\(HTML.escape(attempt.target))</td><td>\(HTML.escape(attempt.methodName))</td>"
            html += "<td class=\"n\">\(attempt.numAttempts)</td><td>\(HTML.time(attempt.createdAt))</td><td>\(HTML.time(attempt.completedAt))</td>"
            if showError { html += "<td class=\"err\">\(HTML.escape(attempt.lastError ?? ""))</td>" }
            html += "</tr>"
        }
        return html + "</table>"
    }

    static func searchForm(_ filter: AttemptFilter) -> String {
        let selected = Set((filter.statuses ?? []).map(\.rawValue))
        var html = "<section><h2>Find attempts</h2><form method=\"get\" action=\"/attempts\" id=\"search\">"
        html += "<select name=\"status\"><option value=\"\">any status</option>"
        for status in AttemptStatus.allCases {
            html += "<option\(selected.contains(status.rawValue) && selected.count == 1 ? " selected" : "")>\(status.rawValue)</option>"
        }
        html += "</select> <input name=\"target\" placeholder=\"target\" value=\"\(HTML.escape(filter.target ?? ""))\">"
        html += " <input name=\"method\" placeholder=\"method\" value=\"\(HTML.escape(filter.method ?? ""))\">"
        html += " <input name=\"since\" placeholder=\"since (2h, 7d, ISO time)\">"
        html += " <button>Search</button></form>"
        html += "<form method=\"get\" action=\"/attempts/find\" class=\"inline\" style=\"margin-top:8px\"><input name=\"id\" placeholder=\"attempt id\" size=\"10\"> <button>Open</button></form></section>"
        return html
    }

    /// An attempt's fields, and the action forms that apply to its status.
    static func detail(_ attempt: AttemptView, notice: String?, actionsEnabled: Bool) -> String {
        var html = ""
        if let notice { html += "<p class=\"notice\" id=\"notice\">\(HTML.escape(notice))</p>" }
        html += "<section><h2>Attempt \(attempt.id)</h2><dl id=\"fields\">"
        for (name, value) in attempt.fields(time: { HTML.time($0) }) {
            html += "<dt>\(name)</dt><dd data-field=\"\(name)\"\(name == "last_error" ? " class=\"err\"" : "")>\(HTML.escape(value))</dd>"
        }
        html += "</dl><p>Arguments are never shown here.</p></section>"
        let actions: [(String, String)] = switch attempt.status {
        case "pending": [("expire", "Expire"), ("fail", "Fail")]
        case "failed", "expired": [("retry", "Retry")]
        default: []
        }
        if !actions.isEmpty {
            html += "<section><h2>Actions</h2>"
            if !actionsEnabled { html += "<p class=\"notice alert\">Actions are disabled on this node: set admin.token in its config.</p>" }
            for (action, label) in actions {
                html += "<form method=\"post\" action=\"/attempts/\(attempt.id)/\(action)\" class=\"inline\" id=\"\(action)-form\">"
                html += "<input type=\"password\" name=\"token\" placeholder=\"admin token\" autocomplete=\"current-password\" required> "
                if action == "fail" { html += "<input name=\"reason\" placeholder=\"reason (optional)\"> " }
                html += "<button type=\"submit\" id=\"\(action)-button\"\(actionsEnabled ? "" : " disabled")>\(label)</button></form>"
            }
            html += "</section>"
        }
        return html
    }

    /// A one-message page (refusals, not found).
    static func message(_ text: String, alert: Bool) -> String {
        "<p class=\"notice\(alert ? " alert" : "")\" id=\"notice\">\(HTML.escape(text))</p><p><a href=\"/\">Overview</a></p>"
    }
}
