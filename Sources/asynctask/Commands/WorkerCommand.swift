import ArgumentParser
import AsyncTask
import AsyncTaskAdmin
import AsyncTaskCore
import AsyncTaskTargets
import AsyncTaskWorker
import Foundation
import Logging
import Metrics
import PostgresClient
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `asynctask worker --config FILE`: runs one worker node until SIGTERM/SIGINT.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker node (one per container). SIGTERM/SIGINT drains it; a second signal stops it at once.")

    @Option(help: "The worker config file (YAML). ASYNCTASK_* environment variables override its keys.")
    var config: String?

    func run() async throws {
        let configuration: WorkerConfiguration
        do {
            configuration = try await WorkerConfiguration.load(file: config)
        } catch {
            throw CLIFailure.badInput(error.description)
        }
        LogSetup.bootstrap(level: configuration.logLevel, format: configuration.logFormat, repeatWindow: configuration.logRepeatWindow)
        var logger = Logger(label: "asynctask.worker")
        logger[metadataKey: "node_id"] = "\(configuration.node.id)"
        // swift-metrics → Prometheus: the node's counters, gauges and timers land in this registry, which the
        // admin server's /metrics emits.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let node = WorkerNode(configuration: configuration, version: AsyncTaskVersion.current, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if configuration.admin.enabled {
            let database: PostgresConfiguration
            do {
                database = try PostgresConfiguration(url: configuration.databaseURL, applicationName: "asynctask-admin")
            } catch {
                throw CLIFailure.badInput("config database_url: \(error.message)")
            }
            let admin = AdminServer(
                configuration: .init(
                    host: configuration.admin.host, port: configuration.admin.port, token: configuration.admin.token,
                    deadAfter: configuration.node.deadAfter, readToken: configuration.admin.readToken),
                database: database, node: WorkerNodeStatus(node: node), registry: registry, logger: logger)
            // Listed before the node: the group stops services in reverse order, so the node drains first while
            // the admin server keeps answering (/readyz 503), and the admin server stops last.
            services.append(.init(service: admin))
        }
        services.append(.init(service: node))
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        // The first signal drains (ServiceGroup); a second one ends the process at once. Leases then expire.
        let escalation = Task {
            var seen = 0
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                seen += 1
                if seen >= 2 {
                    logger.warning("second stop signal: exiting now; leases of in-flight attempts will expire")
                    Foundation.exit(130)
                }
            }
        }
        defer { escalation.cancel() }
        do {
            try await group.run()
        } catch let error as AdminListenError {
            throw CLIFailure.badInput(error.description)
        }
    }
}

/// `asynctask config check FILE`: validates a worker config without starting anything.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with worker configuration files.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a worker config file (and ASYNCTASK_* overrides); exit 2 naming the first bad key.")

        @Argument(help: "The config file (YAML).")
        var file: String

        func run() async throws {
            let configuration: WorkerConfiguration
            do {
                configuration = try await WorkerConfiguration.load(file: file)
            } catch {
                throw CLIFailure.badInput(error.description)
            }
            for line in Self.summary(configuration) { print(line) }
        }
    }
}

extension ConfigCommand.Check {
    /// One line per validated section (secrets never shown: URLs masked, tokens and keys only counted), so an
    /// operator sees what the node will actually use, defaults included.
    static func summary(_ configuration: WorkerConfiguration) -> [String] {
        let node = configuration.node
        let targets = configuration.targets.values.sorted { $0.name < $1.name }
        // Durations as the config writes them (24h, 1d, 300ms), so a value can be copied back into a file.
        func text(_ duration: Duration) -> String { DurationParser.format(duration) }
        var lines = ["ok: node concurrency \(node.concurrency), lease \(text(node.lease)), \(targets.count) target(s)"]
        lines.append("  database: \(Redaction.maskingPasswords(in: configuration.databaseURL)) (pool_size \(configuration.databasePoolSize))")
        lines.append(
            "  node: heartbeat \(text(node.heartbeat)), dead_after \(text(node.deadAfter)), poll_interval \(text(node.pollInterval)), claim_batch \(node.claimBatch), claimers \(node.claimers), shutdown_grace \(text(node.shutdownGrace))"
        )
        for target in targets {
            lines.append(
                "  target \(target.name) → \(Redaction.maskingPasswords(in: target.url)) (\(target.protocol.rawValue), concurrency \(target.concurrency), max_attempts \(target.maxAttempts))"
            )
        }
        if let webhook = configuration.webhook {
            lines.append(
                "  webhook: \(Redaction.maskingPasswords(in: webhook.target.url)), events \(webhook.events.map(\.rawValue).sorted().joined(separator: ", ")), \(webhook.secrets.count) secret(s), include_args \(webhook.includeArgs)"
            )
        } else {
            lines.append("  webhook: none (no failure events are posted)")
        }
        let admin = configuration.admin
        if admin.enabled {
            let address = admin.host.contains(":") ? "[\(admin.host)]:\(admin.port)" : "\(admin.host):\(admin.port)"
            let token = admin.token == nil ? "not set (actions refused)" : "set"
            let readToken = admin.readToken == nil ? "not set (pages open to anyone reaching the address)" : "set"
            lines.append("  admin: listen \(address), token \(token), read_token \(readToken)")
        } else {
            lines.append("  admin: off")
        }
        if let keys = configuration.encryption {
            lines.append("  encryption: primary \(keys.primaryID), keys \(keys.keyIDs.joined(separator: ", "))")
        } else {
            lines.append("  encryption: none (arguments stored as plain JSON)")
        }
        let retention = configuration.retention
        lines.append("  retention: succeeded \(text(retention.succeeded)), failed \(text(retention.failed)), interval \(text(retention.interval))")
        lines.append(
            "  log: level \(configuration.logLevel.rawValue), format \(configuration.logFormat.rawValue), repeat_window \(text(configuration.logRepeatWindow))"
        )
        return lines
    }
}

/// The node as the admin server sees it: the admin module does not depend on the worker module.
struct WorkerNodeStatus: NodeStatusProvider {
    let node: WorkerNode
    var id: UUID { node.id }
    var isDraining: Bool { node.isDraining }
    var inFlight: Int { node.inFlight }
    var targets: [String] { node.configuration.servedTargets.keys.sorted() }
    var bufferedOutcomes: Int? { node.bufferedOutcomes }
    var databaseUnreachableSince: Date? { node.databaseContact.current.unreachableSince }
    var databaseLastReached: Date? { node.databaseContact.current.lastReached }
}
