import AsyncTask
import AsyncTaskCore
import Foundation

extension DashboardPage {
    /// The listing's views, as tabs.
    static let tabs: [(String, String)] = [
        ("All", ""), ("Scheduled", "state=scheduled"), ("Retrying", "state=retrying"), ("Running", "state=running"), ("Waiting", "state=waiting"),
        ("Failed", "status=failed"), ("Expired", "status=expired"), ("Succeeded", "status=succeeded"),
    ]

    /// `filter` as query parameters (no paging cursor), for links and redirects that keep it.
    static func query(_ filter: AttemptFilter) -> String {
        var parts: [String] = []
        if let statuses = filter.statuses, !statuses.isEmpty {
            parts.append("status=" + HTML.queryValue(statuses.map(\.rawValue).joined(separator: ",")))
        }
        if let target = filter.target { parts.append("target=" + HTML.queryValue(target)) }
        if let method = filter.method { parts.append("method=" + HTML.queryValue(method)) }
        if let since = filter.since { parts.append("since=" + HTML.queryValue(OperatorJSON.timestamp(since))) }
        if let phase = filter.phase { parts.append("state=" + phase.rawValue) }
        if filter.includeInternal { parts.append("include_internal=1") }
        return parts.joined(separator: "&")
    }

    /// `filter` as hidden form fields (no paging cursor), for the bulk forms.
    static func hiddenFields(_ filter: AttemptFilter) -> String {
        var fields: [(String, String)] = []
        if let statuses = filter.statuses, !statuses.isEmpty { fields.append(("status", statuses.map(\.rawValue).joined(separator: ","))) }
        if let target = filter.target { fields.append(("target", target)) }
        if let method = filter.method { fields.append(("method", method)) }
        if let since = filter.since { fields.append(("since", OperatorJSON.timestamp(since))) }
        if let phase = filter.phase { fields.append(("state", phase.rawValue)) }
        if filter.includeInternal { fields.append(("include_internal", "1")) }
        return fields.map { "<input type=\"hidden\" name=\"\($0.0)\" value=\"\(HTML.escape($0.1))\">" }.joined()
    }

    /// In words, what a filter selects.
    static func describe(_ filter: AttemptFilter) -> String {
        var parts: [String] = []
        if let statuses = filter.statuses, !statuses.isEmpty { parts.append("status " + statuses.map(\.rawValue).joined(separator: " or ")) }
        if let phase = filter.phase { parts.append(phase.rawValue) }
        if let target = filter.target { parts.append("target \(target)") }
        if let method = filter.method { parts.append("method \(method)") }
        if let since = filter.since { parts.append("created since \(HTML.time(since))") }
        parts.append(filter.matchesInternal ? "webhook deliveries included" : "user attempts only")
        return parts.joined(separator: ", ")
    }

    /// The attempts listing: tabs, search, the table with a checkbox per row, and the bulk form around it.
    static func attemptsPage(
        _ views: [AttemptView], filter: AttemptFilter, hiddenInternal: Int, nextBefore: Int64?, notice: String?, actionsEnabled: Bool
    ) -> String {
        var html = ""
        if let notice { html += "<p class=\"notice\" id=\"notice\">\(HTML.escape(notice))</p>" }
        var current = filter
        current.beforeID = nil
        html += "<p class=\"tabs\" id=\"tabs\">"
        for (label, query) in tabs {
            var tab = AttemptFilter()
            tab.target = filter.target
            tab.includeInternal = filter.includeInternal
            let tabQuery = [query, Self.query(tab)].filter { !$0.isEmpty }.joined(separator: "&")
            let on = (try? FilterParser.filter({ name in Self.value(name, in: tabQuery) })) == current
            html += "<a href=\"/attempts\(tabQuery.isEmpty ? "" : "?" + HTML.escape(tabQuery))\"\(on ? " class=\"on\"" : "")>\(label)</a>"
        }
        html += "</p>"
        html += searchForm(filter)
        let title = nextBefore != nil ? "Newest \(views.count)" : "\(views.count)"
        html += "<section><h2>\(title) attempt(s): \(HTML.escape(describe(filter)))</h2>"
        if hiddenInternal > 0 {
            var with = current
            with.includeInternal = true
            html += "<p class=\"muted\" id=\"internal-hidden\">\(hiddenInternal) webhook deliveries match too and are not listed: "
            html += "<a href=\"/attempts?\(HTML.escape(query(with)))\">include them</a>.</p>"
        }
        html += "<form method=\"post\" action=\"/attempts/bulk\" id=\"bulk\">" + hiddenFields(current)
        html += attemptsTable(views, showError: true, selectable: true)
        html +=
            "<p style=\"margin-top:10px\"><select name=\"action\" id=\"bulk-action\"><option value=\"retry\">Retry</option><option value=\"expire\">Expire</option><option value=\"fail\">Fail</option></select> "
        html += "<label><input type=\"radio\" name=\"scope\" value=\"selected\" checked id=\"scope-selected\"> the ticked attempts</label> "
        html +=
            "<label><input type=\"radio\" name=\"scope\" value=\"filter\" id=\"scope-filter\"> every attempt matching this view (all pages)</label> "
        html +=
            "<button type=\"submit\" id=\"bulk-review\">Review…</button> <span class=\"muted\">Nothing changes before you confirm\(actionsEnabled ? "" : "; actions are disabled on this node (no admin.token)").</span></p></form>"
        if let nextBefore {
            html +=
                "<p><a href=\"/attempts?before=\(nextBefore)\(query(current).isEmpty ? "" : "&" + HTML.escape(query(current)))\" id=\"next\">Older</a></p>"
        }
        return html + "</section>"
    }

    /// A query value from a `a=1&b=2` string (for matching tabs).
    static func value(_ name: String, in query: String) -> String? {
        HTML.formPairs(query).last { $0.0 == name }?.1
    }

    static func attemptsTable(_ attempts: [AttemptView], showError: Bool, selectable: Bool) -> String {
        guard !attempts.isEmpty else { return "<p>None.</p>" }
        var html =
            "<table id=\"attempts\"><tr>\(selectable ? "<th></th>" : "")<th>ID</th><th>Status</th><th>Target</th><th>Method</th><th>Tries</th><th>Created</th><th>Runs at / completed</th>\(showError ? "<th>Last error</th>" : "")</tr>"
        for attempt in attempts {
            html += "<tr data-attempt=\"\(attempt.id)\">"
            if selectable {
                html += "<td><input type=\"checkbox\" name=\"id\" value=\"\(attempt.id)\" aria-label=\"select attempt \(attempt.id)\"></td>"
            }
            html += "<td><a href=\"/attempts/\(attempt.id)\">\(attempt.id)</a></td>"
            html +=
                "<td class=\"\(attempt.status)\">\(attempt.status)</td><td>\(HTML.escape(attempt.target))</td><td>\(HTML.escape(attempt.methodName))</td>"
            html +=
                "<td class=\"n\" data-field=\"tries\">\(attempt.numAttempts)/\(attempt.maxAttemptsShort)</td><td>\(HTML.time(attempt.createdAt))</td>"
            html += "<td>\(attempt.completedAt.map { HTML.time($0) } ?? HTML.time(attempt.availableAt))</td>"
            if showError {
                html += "<td class=\"err\" data-field=\"last_error\">\(HTML.escape(attempt.lastErrorSummary ?? ""))</td>"
            }
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
        html += "</select> <select name=\"state\"><option value=\"\">any phase</option>"
        for phase in AttemptFilter.Phase.allCases {
            html += "<option\(filter.phase == phase ? " selected" : "")>\(phase.rawValue)</option>"
        }
        html += "</select> <input name=\"target\" placeholder=\"target\" value=\"\(HTML.escape(filter.target ?? ""))\">"
        html += " <input name=\"method\" placeholder=\"method\" value=\"\(HTML.escape(filter.method ?? ""))\">"
        html += " <input name=\"since\" placeholder=\"since (2h, 7d, ISO time)\">"
        html +=
            " <label><input type=\"checkbox\" name=\"include_internal\" value=\"1\"\(filter.includeInternal ? " checked" : "")> webhook deliveries too</label>"
        html += " <button>Search</button></form>"
        html +=
            "<form method=\"get\" action=\"/attempts/find\" class=\"inline\" style=\"margin-top:8px\"><input name=\"id\" placeholder=\"attempt id\" size=\"10\"> <button>Open</button></form></section>"
        return html
    }

    /// Bulk, step 2: what will change, and the confirming form that carries the same selection and the token.
    static func bulkConfirmation(
        action: AttemptAction, selection: BulkSelection, count: Int, actionsEnabled: Bool
    ) -> String {
        let statuses = action.appliesToText
        var html = "<section><h2>Confirm: \(action) \(count) attempt(s)</h2>"
        let carried: String
        switch selection {
        case .ids(let ids):
            html +=
                "<p>\(ids.count) attempt(s) ticked; <b id=\"bulk-count\" data-figure=\"bulk-count\">\(count)</b> of them are \(statuses) and will be changed by <b>\(action)</b>.</p>"
            html += "<p class=\"muted\">Ids: \(ids.prefix(50).map(String.init).joined(separator: ", "))\(ids.count > 50 ? " …" : "")</p>"
            carried =
                "<input type=\"hidden\" name=\"scope\" value=\"selected\">"
                + ids.map { "<input type=\"hidden\" name=\"id\" value=\"\($0)\">" }.joined()
        case .filter(let filter):
            html +=
                "<p>Every attempt matching <i>\(HTML.escape(describe(filter)))</i>: <b id=\"bulk-count\" data-figure=\"bulk-count\">\(count)</b> \(statuses) attempt(s) will be changed by <b>\(action)</b> (counted now; rows that change status meanwhile are left alone).</p>"
            carried = "<input type=\"hidden\" name=\"scope\" value=\"filter\">" + hiddenFields(filter)
        }
        if count == 0 {
            return html + "<p id=\"bulk-nothing\">Nothing to do.</p><p><a href=\"/attempts\">Back to the attempts</a></p></section>"
        }
        if !actionsEnabled { html += "<p class=\"notice alert\">Actions are disabled on this node: set admin.token in its config.</p>" }
        html +=
            "<form method=\"post\" action=\"/attempts/bulk/apply\" id=\"bulk-confirm\"><input type=\"hidden\" name=\"action\" value=\"\(HTML.escape(action.rawValue))\">"
            + carried
        html += "<input type=\"password\" name=\"token\" placeholder=\"admin token\" autocomplete=\"current-password\" required> "
        if action == .fail { html += "<input name=\"reason\" placeholder=\"reason (optional)\"> " }
        html +=
            "<button type=\"submit\" id=\"confirm-button\"\(actionsEnabled ? "" : " disabled")>Confirm: \(HTML.escape(action.rawValue)) \(count) attempt(s)</button> "
        html += "<a href=\"/attempts\">Cancel</a></form></section>"
        return html
    }

    /// An attempt's fields, its try timeline, and the action forms that apply to its status.
    static func detail(_ attempt: AttemptView, notice: String?, actionsEnabled: Bool, now: Date) -> String {
        var html = ""
        if let notice { html += "<p class=\"notice\" id=\"notice\">\(HTML.escape(notice))</p>" }
        html +=
            "<section><h2>Attempt \(attempt.id)\(attempt.target.hasPrefix(Schema.internalTargetPrefix) ? " (a webhook delivery)" : "")</h2><dl id=\"fields\">"
        for (name, value) in attempt.fields(time: { HTML.time($0) }) {
            let error = name == "last_error" || name == "last_response_excerpt"
            html += "<dt>\(name)</dt><dd data-field=\"\(name)\"\(error ? " class=\"err\"" : "")>\(HTML.escape(value))</dd>"
        }
        html += "</dl><p>Arguments are never shown here.</p></section>"
        html += timeline(attempt, now: now)
        let actions = AttemptAction.available(from: attempt.status)
        if !actions.isEmpty {
            html += "<section><h2>Actions</h2>"
            if !actionsEnabled { html += "<p class=\"notice alert\">Actions are disabled on this node: set admin.token in its config.</p>" }
            for action in actions {
                let label = action.rawValue.prefix(1).uppercased() + action.rawValue.dropFirst()
                html += "<form method=\"post\" action=\"/attempts/\(attempt.id)/\(action)\" class=\"inline\" id=\"\(action)-form\">"
                html += "<input type=\"password\" name=\"token\" placeholder=\"admin token\" autocomplete=\"current-password\" required> "
                if action == .fail { html += "<input name=\"reason\" placeholder=\"reason (optional)\"> " }
                html += "<button type=\"submit\" id=\"\(action)-button\"\(actionsEnabled ? "" : " disabled")>\(label)</button></form>"
            }
            html += "</section>"
        }
        return html
    }

    /// The tries on a time axis (a bar per try from its start for its duration, coloured by outcome), then the
    /// same tries as a table, with the tries that left no record named.
    static func timeline(_ attempt: AttemptView, now: Date) -> String {
        let tries = attempt.tries ?? []
        var html = "<section id=\"tries\"><h2>Tries (the newest \(Schema.keptTries) are kept)</h2>"
        guard !tries.isEmpty else {
            return html
                + "<p id=\"tries-none\">No try recorded\(attempt.numAttempts > 0 ? " (tries made before the try history existed, or whose node stopped before recording, leave none)" : " yet").</p></section>"
        }
        let colors: [AttemptTry.Outcome: String] = [.succeeded: "#2e9e57", .retry: "#e0a030", .failed: "#d0443a", .released: "#8a93a3"]
        let starts = tries.compactMap(\.startedAt)
        let first = starts.min() ?? attempt.createdAt
        let ends = tries.compactMap { entry in entry.startedAt.map { $0.addingTimeInterval((entry.durationMs ?? 0) / 1000) } }
        var last = max(ends.max() ?? first, attempt.status == .pending ? min(now, max(attempt.availableAt, first)) : first)
        if last.timeIntervalSince(first) < 0.001 { last = first.addingTimeInterval(1) }
        let span = last.timeIntervalSince(first)
        let width = 760.0
        let left = 40.0
        let right = 60.0
        let row = 18.0
        let top = 8.0
        let height = top + row * Double(tries.count) + 28
        let plot = width - left - right
        func x(_ date: Date) -> Double { left + plot * date.timeIntervalSince(first) / span }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        var svg =
            "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"timeline of the tries\" id=\"timeline\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plot)\" height=\"\(row * Double(tries.count))\" fill=\"#f7f8fa\"/>"
        for (index, entry) in tries.enumerated() {
            let y = top + row * Double(index)
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 13))\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5262\">#\(entry.number)</text>"
            guard let start = entry.startedAt else { continue }
            let barX = x(start)
            let barWidth = max(2, plot * (entry.durationMs ?? 0) / 1000 / span)
            let text =
                "try \(entry.number) \(entry.outcome.rawValue) at \(HTML.time(start)) after \(DashboardPage.milliseconds(entry.durationMs ?? 0))\(entry.error.map { ": " + $0 } ?? "")"
            svg +=
                "<rect x=\"\(f(barX))\" y=\"\(f(y + 3))\" width=\"\(f(barWidth))\" height=\"\(f(row - 6))\" fill=\"\(colors[entry.outcome] ?? "#888")\" data-try=\"\(entry.number)\"><title>\(HTML.escape(text))</title></rect>"
        }
        let axisY = top + row * Double(tries.count)
        svg += "<line x1=\"\(left)\" x2=\"\(left + plot)\" y1=\"\(axisY)\" y2=\"\(axisY)\" stroke=\"#8a93a3\"/>"
        for tick in 0...4 {
            let date = first.addingTimeInterval(span * Double(tick) / 4)
            let tickX = left + plot * Double(tick) / 4
            let label = tick == 0 ? HTML.time(date) : "+" + ElapsedTimeText.describe(date.timeIntervalSince(first))
            svg += "<line x1=\"\(f(tickX))\" x2=\"\(f(tickX))\" y1=\"\(f(axisY))\" y2=\"\(f(axisY + 4))\" stroke=\"#8a93a3\"/>"
            svg +=
                "<text x=\"\(f(tickX))\" y=\"\(f(axisY + 16))\" font-size=\"11\" fill=\"#4a5262\" text-anchor=\"\(tick == 0 ? "start" : tick == 4 ? "end" : "middle")\">\(HTML.escape(label))</text>"
        }
        svg += "</svg>"
        html +=
            "<p>"
            + [
                (AttemptTry.Outcome.succeeded, "succeeded"), (.retry, "failed, retried"), (.failed, "failed"),
                (.released, "released (node stopping)"),
            ]
            .map { "<span class=\"key\"><i style=\"background:\(colors[$0.0] ?? "#888")\"></i>\($0.1)</span>" }.joined() + "</p>" + svg
        let missing = attempt.missingTries
        if !missing.isEmpty {
            html +=
                "<p class=\"notice alert\" id=\"tries-missing\">No outcome recorded for try \(missing.map(String.init).joined(separator: ", ")): its node stopped or lost its lease before recording it.</p>"
        }
        html +=
            "<table id=\"tries-table\"><tr><th>Try</th><th>Node</th><th>Started</th><th>Duration</th><th>Outcome</th><th>Error kind</th><th>HTTP</th><th>Error</th><th>Response excerpt</th></tr>"
        for entry in tries {
            html +=
                "<tr data-try=\"\(entry.number)\"><td class=\"n\">\(entry.number)\(entry.maxAttempts.map { "/\($0)" } ?? "")</td><td>\(HTML.escape(entry.node.map { String($0.prefix(8)) } ?? "–"))</td>"
            html +=
                "<td>\(entry.startedAt.map { OperatorJSON.timestamp($0) } ?? "–")</td><td class=\"n\">\(entry.durationMs.map { DashboardPage.milliseconds($0) } ?? "–")</td>"
            html +=
                "<td class=\"\(entry.outcome == .retry ? "warning" : entry.outcome.rawValue)\" data-field=\"outcome\">\(entry.outcome.rawValue)</td>"
            html += "<td>\(HTML.escape(entry.errorKind ?? "–"))</td><td class=\"n\">\(entry.httpStatus.map(String.init) ?? "–")</td>"
            html += "<td class=\"err\">\(HTML.escape(entry.error ?? ""))</td><td class=\"err\">\(HTML.escape(entry.excerpt ?? ""))</td></tr>"
        }
        return html + "</table></section>"
    }

    /// The page while the database is unreachable: since when, and what the node knows without it.
    static func outage(_ report: AdminServer.OutageReport) -> String {
        var html = "<section id=\"outage\"><h2 class=\"problem\">The database is unreachable</h2>"
        html += "<p class=\"notice alert\" id=\"notice\">This node cannot reach PostgreSQL"
        if let since = report.unreachableSince { html += " since <b id=\"unreachable-since\">\(HTML.time(since))</b>" }
        html +=
            ". Attempts, queues and charts live in the database and cannot be shown until it is back; this page reloads every 5 s.</p><dl id=\"outage-facts\">"
        html +=
            "<dt>last reached</dt><dd data-field=\"last_success\">\(report.lastSuccess.map { HTML.time($0) } ?? "not since this node started")</dd>"
        html += "<dt>last error</dt><dd class=\"err\" data-field=\"last_error\">\(HTML.escape(report.lastError ?? "–"))</dd></dl></section>"
        html += "<section><h2>What this node still knows</h2><dl id=\"node-facts\">"
        html += "<dt>node</dt><dd data-field=\"node\">\(HTML.escape(report.node.id))\(report.node.draining ? " (draining)" : "")</dd>"
        html += "<dt>calls in flight</dt><dd data-field=\"in_flight\">\(report.node.inFlight)</dd>"
        html +=
            "<dt>targets served</dt><dd data-field=\"targets\">\(HTML.escape(report.node.targets.isEmpty ? "–" : report.node.targets.joined(separator: ", ")))</dd>"
        html +=
            "<dt>outcomes buffered</dt><dd data-field=\"buffered_outcomes\">\(report.node.bufferedOutcomes.map { "\($0) (kept in memory, written once the database is back)" } ?? "unknown")</dd>"
        return html + "</dl></section>"
    }
}
