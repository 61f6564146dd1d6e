import AsyncTask
import AsyncTaskCore
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
        /// The charts' series over `?window=` (1h or 24h).
        var series: ClusterStats.Series
    }

    /// `POST /api/bulk/{action}` body.
    struct BulkBody: Encodable {
        var action: String
        /// How many attempts the action applies to now (with `dry_run`).
        var matching: Int?
        /// How many it changed.
        var changed: Int?
    }

    /// `GET /api/nodes` body.
    struct NodesBody: Encodable {
        var nodes: [ClusterNodes.NodeInfo]
        var thisNode: String
    }

    /// The action request for `action` from a form or query: a fail's `reason` (empty means none), a retry's
    /// one more try, as the single-attempt buttons give.
    static func request(_ action: AttemptAction, reason: String?) -> AttemptActionRequest {
        .action(action, reason: reason.flatMap { $0.isEmpty ? nil : $0 }, extraTries: 1)
    }

    func addAPIRoutes(to router: Router<BasicRequestContext>, database: AdminDatabase) {
        let api = router.group("api")
        api.get("attempts") { [configuration] request, _ -> Response in
            let query = request.uri.queryParameters
            let filter: AttemptFilter
            let limit: Int
            do {
                filter = try FilterParser.filter { query.get($0) }
                limit = try FilterParser.limit(query.get("limit"))
            } catch let error as FilterParser.Error {
                return Self.jsonError(error.description, status: .badRequest)
            }
            let views = try await database.withConnection {
                try await AttemptQueries(deadAfter: configuration.deadAfter).views(filter, limit: limit, on: $0)
            }
            return try Self.json(AttemptList(attempts: views, nextBefore: views.count == limit ? views.last?.id : nil))
        }
        api.get("attempts/:id") { [configuration] _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
                return Self.jsonError("not an attempt id", status: .badRequest)
            }
            guard let view = try await database.withConnection({ try await AttemptQueries(deadAfter: configuration.deadAfter).detail(id, on: $0) })
            else {
                return Self.jsonError("attempt \(id) not found", status: .notFound)
            }
            return try Self.json(view)
        }
        // Bulk: `ids=1,2,3` or the listing's filter parameters (internal targets only when asked); `dry_run=true`
        // only counts. The same batched statements as `asynctask attempts retry --status …`.
        api.post("bulk/:action") { [tokenCheck, logger] request, context -> Response in
            guard let action = context.parameters.get("action").flatMap(AttemptAction.init(rawValue:)) else {
                return Self.jsonError("unknown action: use retry, expire or fail", status: .notFound)
            }
            do {
                try tokenCheck.verify(TokenCheck.bearer(request.headers[.authorization]))
            } catch let error as TokenCheck.Refusal {
                return Self.refusal(error)
            }
            let query = request.uri.queryParameters
            let selection: BulkSelection
            let dryRun: Bool
            do {
                selection = try BulkSelection.parse { query.get($0) }
                dryRun = try FilterParser.flag(query.get("dry_run"), field: "dry_run")
            } catch let error as FilterParser.Error {
                return Self.jsonError(error.description, status: .badRequest)
            }
            let bulk = Self.request(action, reason: query.get("reason"))
            if dryRun {
                let matching = try await database.withConnection { try await selection.count(bulk, on: $0) }
                return try Self.json(BulkBody(action: action.rawValue, matching: matching))
            }
            let changed = try await database.withConnection { try await selection.apply(bulk, on: $0) }
            logger.notice(
                "admin bulk action", metadata: ["action": "\(action.rawValue)", "changed": .stringConvertible(changed.count), "via": "api"])
            return try Self.json(BulkBody(action: action.rawValue, changed: changed.count))
        }
        api.post("attempts/:id/:action") { [tokenCheck, logger] request, context -> Response in
            guard let action = context.parameters.get("action").flatMap(AttemptAction.init(rawValue:)) else {
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
            switch await Self.perform(action, id: id, reason: reason, database: database) {
            case .success(let record):
                logger.notice("admin action", metadata: ["action": "\(action.rawValue)", "attempt_id": .stringConvertible(id), "via": "api"])
                return try Self.json(AttemptView(record))
            case .failure(let error):
                return Self.jsonError(error.message, status: error.status)
            }
        }
        api.get("nodes") { [node, configuration] _, _ -> Response in
            let nodes = try await database.withConnection { try await ClusterNodes(deadAfter: configuration.deadAfter).list(on: $0) }
            return try Self.json(NodesBody(nodes: nodes, thisNode: node.id.uuidString.lowercased()))
        }
        api.get("stats") { request, _ -> Response in
            let query = request.uri.queryParameters
            let minutes = (query.get("minutes", as: Int.self)).map { min(max($0, 1), 1440) } ?? 60
            let includeInternal: Bool
            let window: ClusterStats.Window
            do {
                includeInternal = try FilterParser.flag(query.get("include_internal"), field: "include_internal")
                window = try Self.window(query.get("window"))
            } catch let error as FilterParser.Error {
                return Self.jsonError(error.description, status: .badRequest)
            }
            let body = try await database.withConnection { connection in
                StatsBody(
                    targets: try await ClusterStats().perTarget(includeInternal: includeInternal, on: connection),
                    throughput: try await ClusterStats().throughput(minutes: minutes, includeInternal: includeInternal, on: connection),
                    series: try await ClusterStats().series(window, includeInternal: includeInternal, on: connection))
            }
            return try Self.json(body)
        }
        api.get("targets") { [configuration] _, _ -> Response in
            let targets = try await database.withConnection { try await TargetControls(deadAfter: configuration.deadAfter).list(on: $0) }
            return try Self.json(["targets": targets])
        }
        // Pause, resume or limit a target cluster-wide, as `asynctask targets pause|resume|set` (the admin token
        // required). `limits` takes a JSON body: {"rate": "50/s", "burst": 10, "global_concurrency": 20, "key_concurrency": 2, "clear": true}.
        api.post("targets/:name/:control") { [tokenCheck, logger, configuration] request, context -> Response in
            guard let control = context.parameters.get("control"), ["pause", "resume", "limits", "unblock"].contains(control) else {
                return Self.jsonError("unknown control: use pause, resume, limits or unblock", status: .notFound)
            }
            guard let name = context.parameters.get("name"), !name.isEmpty else {
                return Self.jsonError("no target name", status: .badRequest)
            }
            do {
                try tokenCheck.verify(TokenCheck.bearer(request.headers[.authorization]))
            } catch let error as TokenCheck.Refusal {
                return Self.refusal(error)
            }
            let by = request.uri.queryParameters.get("by").map { String($0) } ?? "admin api"
            var change = TargetControls.LimitChange()
            if control == "limits" {
                let body = try await request.body.collect(upTo: 64 << 10)
                do {
                    change = try Self.limitChange(Data(body.readableBytesView))
                    try change.validate()
                } catch let error as TargetControlError {
                    return Self.jsonError(error.description, status: .badRequest)
                }
            }
            let controls = TargetControls(deadAfter: configuration.deadAfter)
            if control == "unblock" {
                // {"ordering_key": "order-42"}: the key's failed head stays failed, its next attempt runs.
                let body = try await request.body.collect(upTo: 64 << 10)
                guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
                    let key = object["ordering_key"] as? String, object.count == 1
                else {
                    return Self.jsonError(#"the body must be {"ordering_key": "<key>"}"#, status: .badRequest)
                }
                do {
                    let head = try await database.withConnection { try await controls.unblock(name, key: key, on: $0) }
                    logger.notice("admin target control", metadata: ["control": "unblock", "target": "\(name)", "via": "api"])
                    return try Self.json(UnblockReply(target: name, orderingKey: key, headID: head))
                } catch let error as TargetControlError {
                    return Self.jsonError(error.description, status: .notFound)
                }
            }
            do {
                let target = try await database.withConnection { connection in
                    switch control {
                    case "pause": try await controls.pause(name, by: by, on: connection)
                    case "resume": try await controls.resume(name, on: connection)
                    default: try await controls.setLimits(name, change, by: by, on: connection)
                    }
                }
                logger.notice("admin target control", metadata: ["control": "\(control)", "target": "\(name)", "via": "api"])
                return try Self.json(target)
            } catch let error as TargetControlError {
                if case .invalidLimit = error { return Self.jsonError(error.description, status: .badRequest) }
                return Self.jsonError(error.description, status: .notFound)
            }
        }
        // The ordering keys a failed head holds (`ordering.on_failure: block`), as `asynctask targets blocked NAME`.
        api.get("targets/:name/blocked") { [configuration] _, context -> Response in
            guard let name = context.parameters.get("name"), !name.isEmpty else { return Self.jsonError("no target name", status: .badRequest) }
            let keys = try await database.withConnection {
                try await TargetControls(deadAfter: configuration.deadAfter).blockedKeys(of: name, on: $0)
            }
            return try Self.json(["blocked_keys": keys])
        }
        api.get("doctor") { [configuration] _, _ -> Response in
            let findings = try await database.withConnection {
                try await Doctor(configuration: .init(deadAfter: configuration.deadAfter)).run(on: $0)
            }
            return try Self.json(["findings": findings])
        }
    }

    /// The answer to `POST /api/targets/{name}/unblock`.
    private struct UnblockReply: Encodable {
        var target: String
        var orderingKey: String
        var headID: Int64

        enum CodingKeys: String, CodingKey {
            case target
            case orderingKey = "ordering_key"
            case headID = "head_id"
        }
    }

    /// The body of `POST /api/targets/{name}/limits`.
    private struct LimitsBody: Decodable {
        var rate: String?
        var burst: Int?
        var globalConcurrency: Int?
        var keyConcurrency: Int?
        var clear: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case rate, burst
            case globalConcurrency = "global_concurrency"
            case keyConcurrency = "key_concurrency"
            case clear
        }
    }

    /// The limits of a `POST /api/targets/{name}/limits` body.
    /// - Throws: `TargetControlError.invalidLimit` naming the key that is not what it must be.
    static func limitChange(_ body: Data) throws(TargetControlError) -> TargetControls.LimitChange {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidLimit(field: "body", reason: #"not a JSON object like {"rate": "50/s", "global_concurrency": 20}"#)
        }
        let known = Set(LimitsBody.CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidLimit(field: unknown, reason: "unknown key (use rate, burst, global_concurrency, key_concurrency, clear)")
        }
        let decoded: LimitsBody
        do {
            decoded = try JSONDecoder().decode(LimitsBody.self, from: body)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.first?.stringValue ?? "body"
            let expected = key == "rate" ? "text like \"50/s\"" : key == "clear" ? "true or false" : "a whole number"
            throw .invalidLimit(field: key, reason: "must be \(expected)")
        } catch {
            throw .invalidLimit(field: "body", reason: "not readable JSON")
        }
        var change = TargetControls.LimitChange(
            burst: decoded.burst, globalConcurrency: decoded.globalConcurrency, keyConcurrency: decoded.keyConcurrency, clear: decoded.clear ?? false)
        if let rate = decoded.rate {
            do throws(CallRate.Error) {
                change.rate = try CallRate(parsing: rate)
            } catch {
                throw .invalidLimit(field: "rate", reason: error.description)
            }
        }
        return change
    }

    /// Why an action failed, as an HTTP status and a message.
    struct ActionFailure: Error {
        var status: HTTPResponse.Status
        var message: String
    }

    /// Runs an operator action, mapping refusals to 404 / 409.
    static func perform(_ action: AttemptAction, id: Int64, reason: String?, database: AdminDatabase) async -> Result<AttemptRecord, ActionFailure> {
        do {
            let record = try await database.withConnection { connection in
                try await AttemptActions().apply(request(action, reason: reason), to: id, on: connection)
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

    /// A chart window from `?window=` (`1h`, the default, or `24h`).
    static func window(_ text: String?) throws(FilterParser.Error) -> ClusterStats.Window {
        guard let text, !text.isEmpty else { return .hour }
        guard let window = ClusterStats.Window(rawValue: text) else {
            throw FilterParser.Error(
                field: "window", reason: "'\(text)' is not one of \(ClusterStats.Window.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return window
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
