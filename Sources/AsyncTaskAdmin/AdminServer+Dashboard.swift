import AsyncTask
import AsyncTaskCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient

extension AdminServer {
    // No scripts at all; styles and images inline; forms only back to this server.
    static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"

    /// Rows a dashboard listing shows per page.
    static let pageSize = 100

    func addDashboardRoutes(to router: Router<BasicRequestContext>, database: AdminDatabase) {
        router.get("/") { [configuration] request, _ -> Response in
            let query = request.uri.queryParameters
            let window: ClusterStats.Window
            let includeInternal: Bool
            do {
                window = try Self.window(query.get("window"))
                includeInternal = try FilterParser.flag(query.get("include_internal"), field: "include_internal")
            } catch let error as FilterParser.Error {
                return Self.html(self.page("Bad request", DashboardPage.message(error.description, alert: true)), status: .badRequest)
            }
            let now = Date()
            let body = try await database.withConnection { connection in
                let all = try await ClusterStats().perTarget(includeInternal: true, on: connection)
                return DashboardPage.overview(
                    stats: all.filter { !$0.target.hasPrefix(Schema.internalTargetPrefix) },
                    webhooks: all.filter { $0.target.hasPrefix(Schema.internalTargetPrefix) },
                    series: try await ClusterStats().series(window, includeInternal: includeInternal, on: connection),
                    includeInternal: includeInternal,
                    nodes: try await ClusterNodes(deadAfter: configuration.deadAfter).list(on: connection),
                    failures: try await AttemptQueries(deadAfter: configuration.deadAfter).views(
                        AttemptFilter(statuses: [.failed]), limit: 10, on: connection),
                    findings: try await Doctor(configuration: .init(deadAfter: configuration.deadAfter)).run(on: connection).filter {
                        $0.severity != .ok
                    },
                    now: now)
            }
            return Self.html(self.page("Overview", refresh: 10, body))
        }
        router.get("attempts") { [configuration] request, _ -> Response in
            let query = request.uri.queryParameters
            let filter: AttemptFilter
            do {
                filter = try FilterParser.filter { query.get($0) }
            } catch let error as FilterParser.Error {
                return Self.html(self.page("Bad search", DashboardPage.message(error.description, alert: true)), status: .badRequest)
            }
            let limit = Self.pageSize
            let (views, internalCount) = try await database.withConnection { connection in
                let views = try await AttemptQueries(deadAfter: configuration.deadAfter).views(filter, limit: limit, on: connection)
                // How many @webhook deliveries the same criteria leave out, so the listing can say so.
                var internalOnly = filter
                internalOnly.target = Schema.webhookTarget
                internalOnly.beforeID = nil
                let hidden = filter.matchesInternal ? 0 : try await AttemptQueries().count(internalOnly, on: connection)
                return (views, hidden)
            }
            let done = query.get("done").flatMap(AttemptAction.init(rawValue:))
            let notice = done.map { "\($0.rawValue) applied to \(query.get("changed") ?? "?") attempt(s)." }
            let nextBefore = views.count == limit ? views.last?.id : nil
            let body = DashboardPage.attemptsPage(
                views, filter: filter, hiddenInternal: internalCount, nextBefore: nextBefore, notice: notice,
                actionsEnabled: self.tokenCheck.expected.map { !$0.isEmpty } ?? false)
            return Self.html(self.page("Attempts", body))
        }
        router.get("attempts/find") { request, _ -> Response in
            guard let id = request.uri.queryParameters.get("id", as: Int64.self), id > 0 else {
                return Self.html(self.page("Bad id", DashboardPage.message("not an attempt id", alert: true)), status: .badRequest)
            }
            return Response(status: .seeOther, headers: [.location: "/attempts/\(id)"])
        }
        router.get("attempts/:id") { [configuration, tokenCheck] request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
                return Self.html(self.page("Bad id", DashboardPage.message("not an attempt id", alert: true)), status: .badRequest)
            }
            guard let view = try await database.withConnection({ try await AttemptQueries(deadAfter: configuration.deadAfter).detail(id, on: $0) })
            else {
                return Self.html(self.page("Not found", DashboardPage.message("attempt \(id) not found", alert: true)), status: .notFound)
            }
            let done = request.uri.queryParameters.get("done").flatMap(AttemptAction.init(rawValue:))
            let notice = done.map { "\($0.rawValue) applied: the attempt is now \(view.status)." }
            let enabled = tokenCheck.expected.map { !$0.isEmpty } ?? false
            return Self.html(self.page("Attempt \(id)", DashboardPage.detail(view, notice: notice, actionsEnabled: enabled, now: Date())))
        }
        // Bulk, step 1: count what the chosen action would change and ask for confirmation. Reads only.
        router.post("attempts/bulk") { request, _ -> Response in
            let form = try await Self.form(request)
            guard let action = form.value("action").flatMap(AttemptAction.init(rawValue:)) else {
                return Self.html(self.page("Bad request", DashboardPage.message("choose retry, expire or fail", alert: true)), status: .badRequest)
            }
            let selection: BulkSelection
            do {
                selection = try Self.bulkSelection(form)
            } catch let error as FilterParser.Error {
                return Self.html(self.page("Bad request", DashboardPage.message(error.description, alert: true)), status: .badRequest)
            }
            let count = try await database.withConnection { try await selection.count(Self.request(action, reason: nil), on: $0) }
            return Self.html(
                self.page(
                    "Confirm \(action.rawValue)",
                    DashboardPage.bulkConfirmation(
                        action: action, selection: selection, count: count,
                        actionsEnabled: self.tokenCheck.expected.map { !$0.isEmpty } ?? false)))
        }
        // Bulk, step 2: the confirmed form, with the admin token typed by the operator.
        router.post("attempts/bulk/apply") { [tokenCheck, logger] request, _ -> Response in
            let form = try await Self.form(request)
            guard let action = form.value("action").flatMap(AttemptAction.init(rawValue:)) else {
                return Self.html(self.page("Bad request", DashboardPage.message("choose retry, expire or fail", alert: true)), status: .badRequest)
            }
            if let refusal = self.formRefusal(tokenCheck, form.value("token")) { return refusal }
            let selection: BulkSelection
            do {
                selection = try Self.bulkSelection(form)
            } catch let error as FilterParser.Error {
                return Self.html(self.page("Bad request", DashboardPage.message(error.description, alert: true)), status: .badRequest)
            }
            let changed = try await database.withConnection { try await selection.apply(Self.request(action, reason: form.value("reason")), on: $0) }
            logger.notice(
                "admin bulk action", metadata: ["action": "\(action.rawValue)", "changed": .stringConvertible(changed.count), "via": "dashboard"])
            var back = "/attempts?done=\(action.rawValue)&changed=\(changed.count)"
            if case .filter(let filter) = selection { back += "&" + DashboardPage.query(filter) }
            return Response(status: .seeOther, headers: [.location: back])
        }
        // The dashboard's buttons: plain form POSTs carrying the token typed by the operator. The token is never
        // stored in a cookie, so another site cannot make a browser act (no ambient credentials to ride on).
        router.post("attempts/:id/:action") { [tokenCheck, logger] request, context -> Response in
            guard let action = context.parameters.get("action").flatMap(AttemptAction.init(rawValue:)),
                let id = context.parameters.get("id", as: Int64.self), id > 0
            else {
                return Self.html(self.page("Bad request", DashboardPage.message("unknown action or attempt id", alert: true)), status: .notFound)
            }
            let form = try await Self.form(request)
            if let refusal = self.formRefusal(tokenCheck, form.value("token")) { return refusal }
            switch await Self.perform(action, id: id, reason: form.value("reason"), database: database) {
            case .success:
                logger.notice("admin action", metadata: ["action": "\(action.rawValue)", "attempt_id": .stringConvertible(id), "via": "dashboard"])
                return Response(status: .seeOther, headers: [.location: "/attempts/\(id)?done=\(action.rawValue)"])
            case .failure(let failure):
                return Self.html(self.page("Refused", DashboardPage.message(failure.message, alert: true)), status: failure.status)
            }
        }
    }

    /// The targets page and its buttons: pause, resume, and unblock an ordering key (token-checked form POSTs).
    func addTargetRoutes(to router: Router<BasicRequestContext>, database: AdminDatabase) {
        router.get("targets") { [configuration, tokenCheck] request, _ -> Response in
            let controls = TargetControls(deadAfter: configuration.deadAfter)
            let (targets, blocked) = try await database.withConnection { connection in
                (try await controls.list(on: connection), try await controls.blockedKeys(limit: 100, on: connection))
            }
            let query = request.uri.queryParameters
            let notice = query.get("done").map { done in "\(done) applied to \(query.get("target") ?? "?")." }
            return Self.html(
                self.page(
                    "Targets", refresh: 10,
                    DashboardPage.targetsPage(
                        targets, blocked: blocked, notice: notice, actionsEnabled: tokenCheck.expected.map { !$0.isEmpty } ?? false)))
        }
        router.post("targets/:name/:action") { [configuration, tokenCheck, logger] request, context -> Response in
            guard let name = context.parameters.get("name")?.removingPercentEncoding,
                let action = context.parameters.get("action"), ["pause", "resume", "unblock"].contains(action)
            else {
                return Self.html(self.page("Bad request", DashboardPage.message("unknown target action", alert: true)), status: .notFound)
            }
            let form = try await Self.form(request)
            if let refusal = self.formRefusal(tokenCheck, form.value("token")) { return refusal }
            let controls = TargetControls(deadAfter: configuration.deadAfter)
            do {
                try await database.withConnection { connection in
                    switch action {
                    case "pause": _ = try await controls.pause(name, by: "dashboard", on: connection)
                    case "resume": _ = try await controls.resume(name, on: connection)
                    default: try await controls.unblock(name, key: form.value("ordering_key") ?? "", on: connection)
                    }
                }
            } catch let error as TargetControlError {
                let status: HTTPResponse.Status =
                    switch error {
                    case .unknownTarget, .notBlocked: .notFound
                    default: .badRequest
                    }
                return Self.html(self.page("Refused", DashboardPage.message(error.description, alert: true)), status: status)
            }
            logger.notice("admin target action", metadata: ["action": "\(action)", "target": "\(name)", "via": "dashboard"])
            return Response(status: .seeOther, headers: [.location: "/targets?done=\(action)&target=\(HTML.queryValue(name))"])
        }
    }

    /// A submitted form's fields, in order (a field may repeat, as the listing's `id` checkboxes do).
    struct Form {
        var pairs: [(String, String)]

        /// The last value of `name`.
        func value(_ name: String) -> String? { pairs.last { $0.0 == name }?.1 }
        /// Every value of `name`.
        func values(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
    }

    static func form(_ request: Request) async throws -> Form {
        let body = try await request.body.collect(upTo: 1 << 20)
        return Form(pairs: HTML.formPairs(String(buffer: body)))
    }

    /// The ids the operator ticked (`scope=selected`), or the filter the form carries (`scope=filter`).
    static func bulkSelection(_ form: Form) throws(FilterParser.Error) -> BulkSelection {
        if form.value("scope") == "selected" {
            let ids = form.values("id")
            guard !ids.isEmpty else { throw FilterParser.Error(field: "selection", reason: "no attempt was ticked") }
            return try BulkSelection.parse({ _ in nil }, pickedIDs: ids)
        }
        return try BulkSelection.parse { form.value($0) }
    }

    /// The refusal page for a form whose admin token does not verify, or nil when it does.
    func formRefusal(_ tokenCheck: TokenCheck, _ token: String?) -> Response? {
        do {
            try tokenCheck.verify(token)
            return nil
        } catch {
            let message =
                error == .notConfigured
                ? "Actions are disabled on this node: set admin.token in its config."
                : "Wrong or missing admin token: nothing was changed."
            return Self.html(
                self.page("Refused", DashboardPage.message(message, alert: true)), status: error == .notConfigured ? .forbidden : .unauthorized)
        }
    }

    /// The page chrome with this node's id and draining state.
    func page(_ title: String, refresh: Int? = nil, _ body: String) -> String {
        DashboardPage.page(title: title, nodeID: node.id.uuidString.lowercased(), draining: node.isDraining, refresh: refresh, body: body)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok, extraHeaders: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: contentSecurityPolicy,
            .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        headers.append(contentsOf: extraHeaders)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
