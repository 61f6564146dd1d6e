import AsyncTask
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient

extension AdminServer {
    // No scripts at all; styles and images inline; forms only back to this server.
    static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"

    func addDashboardRoutes(to router: Router<BasicRequestContext>, pool: PostgresConnectionPool) {
        router.get("/") { [node, configuration] _, _ -> Response in
            let now = Date()
            let body = try await pool.withConnection { connection in
                DashboardPage.overview(
                    stats: try await ClusterStats().perTarget(on: connection),
                    throughput: try await ClusterStats().throughput(minutes: 60, on: connection),
                    nodes: try await ClusterNodes(deadAfter: configuration.deadAfter).list(on: connection),
                    failures: try await AttemptQueries().list(AttemptFilter(statuses: [.failed]), limit: 10, on: connection).map(AttemptView.init),
                    findings: try await Doctor(configuration: .init(deadAfter: configuration.deadAfter)).run(on: connection).filter { $0.severity != .ok },
                    now: now)
            }
            return Self.html(self.page("Overview", refresh: 10, body))
        }
        router.get("attempts") { request, _ -> Response in
            let query = request.uri.queryParameters
            let filter: AttemptFilter
            do {
                filter = try FilterParser.filter(
                    status: query.get("status"), target: query.get("target"), method: query.get("method"),
                    since: query.get("since"), before: query.get("before"))
            } catch let error as FilterParser.Error {
                return Self.html(self.page("Bad search", DashboardPage.message(error.description, alert: true)), status: .badRequest)
            }
            let limit = 100
            let records = try await pool.withConnection { try await AttemptQueries().list(filter, limit: limit, on: $0) }
            var body = DashboardPage.searchForm(filter)
            body += "<section><h2>\(records.count == limit ? "Newest \(limit)" : "\(records.count)") attempt(s)</h2>"
            body += DashboardPage.attemptsTable(records.map(AttemptView.init), showError: true)
            if records.count == limit, let last = records.last {
                var next = "/attempts?before=\(last.id)"
                for name in ["status", "target", "method", "since"] {
                    if let value = query.get(name), !value.isEmpty { next += "&\(name)=\(HTML.queryValue(value))" }
                }
                body += "<p><a href=\"\(HTML.escape(next))\" id=\"next\">Older</a></p>"
            }
            return Self.html(self.page("Attempts", body + "</section>"))
        }
        router.get("attempts/find") { request, _ -> Response in
            guard let id = request.uri.queryParameters.get("id", as: Int64.self), id > 0 else {
                return Self.html(self.page("Bad id", DashboardPage.message("not an attempt id", alert: true)), status: .badRequest)
            }
            return Response(status: .seeOther, headers: [.location: "/attempts/\(id)"])
        }
        router.get("attempts/:id") { [tokenCheck] request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
                return Self.html(self.page("Bad id", DashboardPage.message("not an attempt id", alert: true)), status: .badRequest)
            }
            guard let record = try await pool.withConnection({ try await AttemptActions().find(id, on: $0) }) else {
                return Self.html(self.page("Not found", DashboardPage.message("attempt \(id) not found", alert: true)), status: .notFound)
            }
            let done = request.uri.queryParameters.get("done").flatMap(ActionName.init(rawValue:))
            let notice = done.map { "\($0.rawValue) applied: the attempt is now \(record.status)." }
            let enabled = tokenCheck.expected.map { !$0.isEmpty } ?? false
            return Self.html(self.page("Attempt \(id)", DashboardPage.detail(AttemptView(record), notice: notice, actionsEnabled: enabled)))
        }
        // The dashboard's buttons: plain form POSTs carrying the token typed by the operator. The token is never
        // stored in a cookie, so another site cannot make a browser act (no ambient credentials to ride on).
        router.post("attempts/:id/:action") { [tokenCheck, logger] request, context -> Response in
            guard let action = context.parameters.get("action").flatMap(ActionName.init(rawValue:)),
                let id = context.parameters.get("id", as: Int64.self), id > 0
            else {
                return Self.html(self.page("Bad request", DashboardPage.message("unknown action or attempt id", alert: true)), status: .notFound)
            }
            let body = try await request.body.collect(upTo: 64 << 10)
            let fields = HTML.formFields(String(buffer: body))
            do {
                try tokenCheck.verify(fields["token"])
            } catch let error as TokenCheck.Refusal {
                let message = error == .notConfigured
                    ? "Actions are disabled on this node: set admin.token in its config."
                    : "Wrong or missing admin token: nothing was changed."
                return Self.html(self.page("Refused", DashboardPage.message(message, alert: true)), status: error == .notConfigured ? .forbidden : .unauthorized)
            }
            switch await Self.perform(action, id: id, reason: fields["reason"], pool: pool) {
            case .success:
                logger.notice("admin action", metadata: ["action": "\(action.rawValue)", "attempt_id": "\(id)", "via": "dashboard"])
                return Response(status: .seeOther, headers: [.location: "/attempts/\(id)?done=\(action.rawValue)"])
            case .failure(let failure):
                return Self.html(self.page("Refused", DashboardPage.message(failure.message, alert: true)), status: failure.status)
            }
        }
    }

    /// The page chrome with this node's id and draining state.
    func page(_ title: String, refresh: Int? = nil, _ body: String) -> String {
        DashboardPage.page(title: title, nodeID: node.id.uuidString.lowercased(), draining: node.isDraining, refresh: refresh, body: body)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: contentSecurityPolicy,
                .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
