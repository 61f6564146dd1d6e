import AsyncTask
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresClient

extension AdminServer {
    /// `GET /api/attempts` body.
    struct AttemptList: Encodable {
        var attempts: [AttemptView]
        /// The id to pass as `before` for the next page, when there may be one.
        var nextBefore: Int64?
    }

    /// `GET /api/stats` body.
    struct StatsBody: Encodable {
        var targets: [ClusterStats.TargetStats]
        var throughput: [ClusterStats.ThroughputPoint]
    }

    /// `GET /api/nodes` body.
    struct NodesBody: Encodable {
        var nodes: [ClusterNodes.NodeInfo]
        var thisNode: String
    }

    /// An operator action the API and the dashboard offer.
    enum ActionName: String, CaseIterable {
        case retry, expire, fail
    }

    func addAPIRoutes(to router: Router<BasicRequestContext>, pool: PostgresConnectionPool) {
        let api = router.group("api")
        api.get("attempts") { request, _ -> Response in
            let query = request.uri.queryParameters
            let filter: AttemptFilter
            let limit: Int
            do {
                filter = try FilterParser.filter(
                    status: query.get("status"), target: query.get("target"), method: query.get("method"),
                    since: query.get("since"), before: query.get("before"))
                limit = try FilterParser.limit(query.get("limit"))
            } catch let error as FilterParser.Error {
                return Self.jsonError(error.description, status: .badRequest)
            }
            let records = try await pool.withConnection { try await AttemptQueries().list(filter, limit: limit, on: $0) }
            return try Self.json(AttemptList(attempts: records.map(AttemptView.init), nextBefore: records.count == limit ? records.last?.id : nil))
        }
        api.get("attempts/:id") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
                return Self.jsonError("not an attempt id", status: .badRequest)
            }
            guard let record = try await pool.withConnection({ try await AttemptActions().find(id, on: $0) }) else {
                return Self.jsonError("attempt \(id) not found", status: .notFound)
            }
            return try Self.json(AttemptView(record))
        }
        api.post("attempts/:id/:action") { [tokenCheck, logger] request, context -> Response in
            guard let action = context.parameters.get("action").flatMap(ActionName.init(rawValue:)) else {
                return Self.jsonError("unknown action: use retry, expire or fail", status: .notFound)
            }
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
                return Self.jsonError("not an attempt id", status: .badRequest)
            }
            do {
                try tokenCheck.verify(TokenCheck.bearer(request.headers[.authorization]))
            } catch let error as TokenCheck.Refusal {
                return Self.refusal(error)
            }
            let reason = request.uri.queryParameters.get("reason")
            switch await Self.perform(action, id: id, reason: reason, pool: pool) {
            case .success(let record):
                logger.notice("admin action", metadata: ["action": "\(action.rawValue)", "attempt_id": "\(id)", "via": "api"])
                return try Self.json(AttemptView(record))
            case .failure(let error):
                return Self.jsonError(error.message, status: error.status)
            }
        }
        api.get("nodes") { [node, configuration] _, _ -> Response in
            let nodes = try await pool.withConnection { try await ClusterNodes(deadAfter: configuration.deadAfter).list(on: $0) }
            return try Self.json(NodesBody(nodes: nodes, thisNode: node.id.uuidString.lowercased()))
        }
        api.get("stats") { request, _ -> Response in
            let minutes = (request.uri.queryParameters.get("minutes", as: Int.self)).map { min(max($0, 1), 1440) } ?? 60
            let body = try await pool.withConnection { connection in
                StatsBody(
                    targets: try await ClusterStats().perTarget(on: connection),
                    throughput: try await ClusterStats().throughput(minutes: minutes, on: connection))
            }
            return try Self.json(body)
        }
        api.get("doctor") { [configuration] _, _ -> Response in
            let findings = try await pool.withConnection {
                try await Doctor(configuration: .init(deadAfter: configuration.deadAfter)).run(on: $0)
            }
            return try Self.json(["findings": findings])
        }
    }

    /// Why an action failed, as an HTTP status and a message.
    struct ActionFailure: Error {
        var status: HTTPResponse.Status
        var message: String
    }

    /// Runs an operator action, mapping refusals to 404 / 409.
    static func perform(_ action: ActionName, id: Int64, reason: String?, pool: PostgresConnectionPool) async -> Result<AttemptRecord, ActionFailure> {
        do {
            let record = try await pool.withConnection { connection in
                switch action {
                case .retry: try await AttemptActions().retry(id, on: connection)
                case .expire: try await AttemptActions().expire(id, on: connection)
                case .fail: try await AttemptActions().fail(id, reason: reason.flatMap { $0.isEmpty ? nil : $0 }, on: connection)
                }
            }
            return .success(record)
        } catch let error as AttemptActionError {
            switch error {
            case .notFound: return .failure(ActionFailure(status: .notFound, message: error.description))
            case .invalidState: return .failure(ActionFailure(status: .conflict, message: error.description))
            }
        } catch {
            return .failure(ActionFailure(status: .serviceUnavailable, message: "database: \(error)"))
        }
    }

    static func refusal(_ refusal: TokenCheck.Refusal) -> Response {
        switch refusal {
        case .notConfigured:
            jsonError("actions are disabled on this node: set admin.token in its config", status: .forbidden)
        case .invalid:
            Response(
                status: .unauthorized,
                headers: [.contentType: "application/json", .wwwAuthenticate: #"Bearer realm="asynctask-admin""#],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"a valid bearer token is required (Authorization: Bearer <admin.token>)"}"#)))
        }
    }
}
