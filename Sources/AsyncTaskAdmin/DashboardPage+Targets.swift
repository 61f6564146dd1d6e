import AsyncTask
import AsyncTaskCore
import Foundation

extension DashboardPage {
    /// The targets page: each target's state (running, paused, circuit open or half-open), its stored limits and
    /// load cluster-wide, a pause or resume button; and the ordering keys held by a failed head, each with an
    /// unblock button. The buttons are plain form POSTs carrying the admin token typed by the operator.
    static func targetsPage(
        _ targets: [TargetControls.TargetInfo], blocked: [TargetControls.BlockedKey], notice: String?, actionsEnabled: Bool
    ) -> String {
        var html = ""
        if let notice { html += "<p class=\"notice\" id=\"notice\">\(HTML.escape(notice))</p>" }
        if !actionsEnabled { html += "<p class=\"notice alert\">Actions are disabled on this node: set admin.token in its config.</p>" }
        html += "<section><h2>Targets</h2><table id=\"targets\"><tr><th>Target</th><th>State</th><th>Stored limits</th><th>Served by</th>"
        html += "<th>Pending</th><th>Due</th><th>In flight</th><th>Calls/s (1 min)</th><th>Circuit</th><th>Blocked keys</th><th></th></tr>"
        for target in targets {
            let name = HTML.escape(target.name)
            let stateClass = target.paused || target.circuitState != .closed ? "warning" : "ok"
            html += "<tr data-target=\"\(name)\"><td>\(name)</td>"
            html += "<td class=\"\(stateClass)\" data-figure=\"state\">\(HTML.escape(target.state))"
            if let since = target.pausedAt {
                html += "<br><span class=\"muted\">since \(HTML.escape(since.formatted(.iso8601))) by \(HTML.escape(target.pausedBy ?? "?"))</span>"
            }
            html += "</td><td>\(HTML.escape(target.storedLimitsSummary))</td><td class=\"n\">\(target.servedBy)</td>"
            html += "<td class=\"n\" data-figure=\"pending\">\(target.pending)</td><td class=\"n\">\(target.due)</td>"
            html += "<td class=\"n\">\(target.inFlight)</td><td class=\"n\">\(String(format: "%.1f", target.callsPerSecond))</td>"
            html += "<td data-figure=\"circuit\">\(HTML.escape(target.circuitSummary))</td><td class=\"n\">\(target.blockedKeys)</td><td>"
            if !target.name.hasPrefix(Schema.internalTargetPrefix) {
                let action = target.paused ? "resume" : "pause"
                html +=
                    "<form method=\"post\" action=\"/targets/\(HTML.queryValue(target.name))/\(action)\" class=\"inline\" id=\"\(action)-\(name)\">"
                html += "<input type=\"password\" name=\"token\" placeholder=\"admin token\" autocomplete=\"current-password\" required> "
                html += "<button type=\"submit\"\(actionsEnabled ? "" : " disabled")>\(target.paused ? "Resume" : "Pause")</button></form>"
            }
            html += "</td></tr>"
        }
        html += "</table><p class=\"muted\">A pause stops new calls on every node within one heartbeat; calls in flight finish and "
        html +=
            "pending attempts keep their tries. A circuit opens after its target's failures in a row and lets probes through after its cooldown.</p></section>"
        html += "<section><h2>Blocked ordering keys</h2>"
        if blocked.isEmpty {
            html += "<p class=\"ok\" id=\"blocked-none\">No ordering key is blocked.</p>"
        } else {
            html +=
                "<table id=\"blocked\"><tr><th>Target</th><th>Key</th><th>Failed head</th><th>Failed at</th><th>Waiting</th><th>Last error</th><th></th></tr>"
            for key in blocked {
                html += "<tr><td>\(HTML.escape(key.target))</td><td>\(HTML.escape(key.orderingKey))</td>"
                html +=
                    "<td><a href=\"/attempts/\(key.headID)\">\(key.headID)</a></td><td>\(HTML.escape(key.failedAt?.formatted(.iso8601) ?? ""))</td>"
                html += "<td class=\"n\">\(key.waiting)</td><td class=\"err\">\(HTML.escape(key.lastError ?? ""))</td><td>"
                html += "<form method=\"post\" action=\"/targets/\(HTML.queryValue(key.target))/unblock\" class=\"inline\">"
                html += "<input type=\"hidden\" name=\"ordering_key\" value=\"\(HTML.escape(key.orderingKey))\">"
                html += "<input type=\"password\" name=\"token\" placeholder=\"admin token\" autocomplete=\"current-password\" required> "
                html += "<button type=\"submit\"\(actionsEnabled ? "" : " disabled")>Unblock</button></form> "
                html += "<a href=\"/attempts/\(key.headID)\">or retry the head</a></td></tr>"
            }
            html += "</table>"
        }
        html += "</section>"
        return html
    }
}
