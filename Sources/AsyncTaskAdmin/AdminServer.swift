import AsyncTask
import Foundation
import HTTPTypes
import Hummingbird
public import Logging
import NIOCore
public import PostgresClient
public import Prometheus
public import ServiceLifecycle

/// The admin HTTP server of one node (DESIGN §9): `/healthz`, `/readyz`, `/metrics`, the JSON API under
/// `/api`, and the dashboard at `/`.
///
/// It is a `Service`: run it in the same `ServiceGroup` as the worker node, listed before it, so that on
/// SIGTERM the node drains first while this server keeps answering (with `/readyz` at 503), and stops after.
/// It reads the database through a small pool of its own, so operator traffic never takes the worker's
/// connections. Mutating actions need `Authorization: Bearer <admin.token>`; without a configured token they
/// are refused.
public final class AdminServer: Service, Sendable {
    /// Where it listens and the token.
    public let configuration: AdminConfiguration
    let databaseConfiguration: PostgresConfiguration
    let node: any NodeStatusProvider
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let onListening: @Sendable (String, Int) -> Void
    let tokenCheck: TokenCheck
    let readAccess: ReadAccess
    let queueMetrics: QueueMetrics

    /// Creates the server; nothing listens until `run()`.
    /// - Parameters:
    ///   - database: the cluster's database (the server opens up to two connections of its own).
    ///   - node: the node it reports on (draining, id, in-flight).
    ///   - registry: the registry the process's swift-metrics backend writes to; `/metrics` emits it.
    ///   - onListening: called with the bound host and port once the server accepts connections.
    public init(
        configuration: AdminConfiguration, database: PostgresConfiguration, node: any NodeStatusProvider,
        registry: PrometheusCollectorRegistry, logger: Logger, onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) {
        self.configuration = configuration
        self.databaseConfiguration = database
        self.node = node
        self.registry = registry
        self.logger = logger
        self.onListening = onListening
        self.tokenCheck = TokenCheck(expected: configuration.token)
        self.readAccess = ReadAccess(readToken: configuration.readToken, adminToken: configuration.token)
        self.queueMetrics = QueueMetrics(registry: registry, refresh: configuration.metricsRefresh, deadAfter: configuration.deadAfter)
    }

    /// Serves until graceful shutdown (or cancellation).
    public func run() async throws {
        let pool = PostgresConnectionPool(
            configuration: databaseConfiguration, options: .init(maxConnections: 2, acquireTimeout: .seconds(5)), logger: logger)
        let database = AdminDatabase(pool: pool)
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AdminGuard(server: self))
        addHealthRoutes(to: router, database: database)
        addAPIRoutes(to: router, database: database)
        addDashboardRoutes(to: router, database: database)
        addTargetRoutes(to: router, database: database)
        let onListening = self.onListening
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "asynctask-admin"),
            onServerRunning: { channel in
                let host = channel.localAddress?.ipAddress ?? "?"
                let port = channel.localAddress?.port ?? 0
                logger.info("admin server listening", metadata: ["admin_address": "\(host):\(port)"])
                onListening(host, port)
            },
            logger: logger)
        do {
            try await app.run()
        } catch {
            await pool.close()
            // The bind error alone names neither the key nor the address.
            if let io = error as? IOError, io.errnoCode == EADDRINUSE || io.errnoCode == EADDRNOTAVAIL || io.errnoCode == EACCES {
                let problem =
                    io.errnoCode == EADDRINUSE
                    ? "is already in use"
                    : io.errnoCode == EACCES ? "is not permitted (a port below 1024 needs privileges)" : "is not an address of this host"
                throw AdminListenError(host: configuration.host, port: configuration.port, problem: problem)
            }
            throw error
        }
        await pool.close()
    }

    // MARK: - Health

    /// What `/readyz` found.
    struct Readiness: Encodable {
        var ready: Bool
        var nodeID: String
        var draining: Bool
        var database: String
        var migrations: String
    }

    func addHealthRoutes(to router: Router<BasicRequestContext>, database: AdminDatabase) {
        router.get("healthz") { _, _ -> Response in
            Self.text("ok\n")
        }
        router.get("readyz") { [node] _, _ -> Response in
            var readiness = Readiness(
                ready: true, nodeID: node.id.uuidString.lowercased(), draining: node.isDraining, database: "ok", migrations: "current")
            if readiness.draining { readiness.ready = false }
            do {
                let current = try await database.withConnection { try await Migrator().isCurrent(on: $0) }
                if !current {
                    readiness.migrations = "pending: run `asynctask migrate`"
                    readiness.ready = false
                }
            } catch {
                readiness.database = "unreachable: \(error)"
                readiness.migrations = "unknown"
                readiness.ready = false
            }
            return try Self.json(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
        }
        router.get("metrics") { [registry, queueMetrics, logger] _, _ -> Response in
            do {
                try await queueMetrics.update(database: database)
            } catch {
                // The worker's own metrics are still worth serving; the queue gauges keep their last values.
                logger.warning("metrics: could not read queue figures", metadata: ["error": "\(error)"])
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: MetricsHelp.annotate(registry.emitToString()))))
        }
    }

    // MARK: - Responses

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Key-sorted, snake_case JSON with ISO 8601 dates to the millisecond, as the CLI's `--json`.
    static func makeEncoder() -> JSONEncoder {
        OperatorJSON.encoder()
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try makeEncoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error": "..."}` with `status`.
    static func jsonError(_ message: String, status: HTTPResponse.Status) -> Response {
        (try? json(["error": message], status: status)) ?? text(message + "\n", status: status)
    }
}
