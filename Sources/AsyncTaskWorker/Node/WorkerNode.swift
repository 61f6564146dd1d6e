import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import CoreMetrics
public import CurlHTTP
public import Foundation
public import Logging
import PostgresClient
public import ServiceLifecycle
import Synchronization

/// One worker node (DESIGN §1, §3, §8): registers in `async_task_nodes`, claims due attempts with
/// `FOR UPDATE SKIP LOCKED` leases, calls their targets through one libcurl engine, records outcomes in
/// fenced batches, heartbeats, renews leases and reaps dead nodes.
///
/// It is a swift-service-lifecycle `Service`. On graceful shutdown it stops claiming, lets in-flight calls
/// finish for up to `node.shutdown_grace`, records their outcomes, gives back the leases of anything
/// unfinished, marks itself `stopped` and returns. A database outage never stops it: it pauses claiming,
/// keeps outcomes in memory (bounded) and resumes when the database is back.
public final class WorkerNode: Service, Sendable {
    /// The validated configuration.
    public let configuration: WorkerConfiguration
    private let version: String
    private let logger: Logger
    private let metrics = WorkerMetrics()
    private let draining = Atomic<Bool>(false)
    /// Wakes the claim loops: new work announced (NOTIFY), a target's buffer fell to its refill mark, outcomes
    /// flushed (room in a full recorder), or the node drains.
    private let claimDue = WakeSignal()
    private let capacity: CapacityTracker
    private let leases = HeldLeases()
    /// The HTTP engine the node's calls go through (exposed for statistics).
    public let engine: HTTPEngine

    /// Creates a node; nothing starts until `run()`.
    public init(configuration: WorkerConfiguration, version: String, logger: Logger) {
        self.configuration = configuration
        self.version = version
        self.logger = logger
        self.capacity = CapacityTracker(
            nodeLimit: configuration.node.concurrency,
            targetLimits: configuration.servedTargets.mapValues(\.concurrency), prefetch: configuration.node.prefetch)
        // In-flight calls may run until the node's own grace ends; the node cancels them after that.
        self.engine = HTTPEngine(
            configuration: .init(
                maxConnectionsPerHost: max(64, configuration.targets.values.map(\.concurrency).max() ?? 64),
                connectionCacheSize: max(128, configuration.node.concurrency),
                shutdownBehavior: .finishInFlight(grace: configuration.node.shutdownGrace + .seconds(5)),
                maxActiveTransfers: configuration.node.httpTransfers),
            logger: logger)
    }

    /// The node's id (its `locked_by` in leases).
    public var id: UUID { configuration.node.id }

    /// True once the node is draining (after graceful shutdown began).
    public var isDraining: Bool { draining.load(ordering: .acquiring) }

    /// Calls in flight now.
    public var inFlight: Int { capacity.inFlight }

    /// Reads the running recorder's backlog; set by `run()` (for the admin server's outage page).
    private let recorderBacklog = Mutex<(@Sendable () -> Int)?>(nil)

    /// Outcomes kept in memory and not yet written (they pile up while the database is unreachable).
    public var bufferedOutcomes: Int { recorderBacklog.withLock { $0 }?() ?? 0 }

    /// What the node's heartbeats (and its registration) say of the database: since when it cannot be reached,
    /// and when it last was. The admin server's outage page reads it.
    public let databaseContact = DatabaseContact()

    /// Runs the node until graceful shutdown (DESIGN §1, §3, §8); see the type's comment.
    public func run() async throws {
        var postgres = try PostgresConfiguration(url: configuration.databaseURL, applicationName: "asynctask-worker")
        // The node's statements are short and planned each time; the JIT compiler would spend 20–90 ms on each
        // claim whose estimate crosses jit_above_cost (a claim of 256 from 200,000 due rows: 43 ms with it,
        // 5 ms without). A URL or PGOPTIONS that sets jit keeps its choice.
        postgres.setSessionDefault("jit", "off")
        let pool = PostgresConnectionPool(
            configuration: postgres, options: .init(maxConnections: configuration.databasePoolSize, acquireTimeout: .seconds(10)), logger: logger)
        let node = configuration.node
        let driver = PostgresWorkerDriver(
            pool: pool, claimer: AttemptClaimer(nodeID: id, lease: node.lease),
            registry: NodeRegistry(node: node, targets: configuration.servedTargets.keys.sorted(), version: version, logger: logger),
            outcomes: OutcomeWriter(nodeID: id, lease: node.lease, circuits: configuration.targets.compactMapValues(\.circuit)),
            logger: logger,
            circuitTransitions: { [logger, metrics] target, transition in
                metrics.circuitTransition(target: target, to: transition)
                if transition == .opened {
                    logger.warning("circuit opened: no calls to the target until its cooldown passed", metadata: ["target": "\(target)"])
                } else {
                    logger.notice("circuit closed: the target's probe calls succeeded", metadata: ["target": "\(target)"])
                }
            })
        let claimDue = self.claimDue
        let recorder = OutcomeRecorder(
            driver: driver, flushInterval: node.flushInterval, flushBatch: node.flushBatch, flushers: node.flushers,
            maxBuffered: node.maxBufferedOutcomes,
            metrics: metrics, logger: logger,
            onFlushed: { [capacity] keysMovedOn in
                capacity.wakeGloballyCapped()
                capacity.wake(keysMovedOn)
                claimDue.signalOne()
            }, onSettled: { [leases] in leases.remove($0) },
            handover: .node(
                capacity: capacity, leases: leases, claimDue: claimDue,
                release: UnstartedRelease(driver: driver, leases: leases, metrics: metrics, logger: logger)))
        recorderBacklog.withLock { $0 = { recorder.backlog } }
        let executor = AttemptExecutor(
            targets: configuration.targets, caller: TargetCaller(engine: engine),
            batches: BatchDispatcher(caller: TargetCaller(engine: engine), logger: logger), encryptor: configuration.encryptor,
            webhook: configuration.webhook.map { WebhookDelivery(configuration: $0, engine: engine) }, metrics: metrics, logger: logger,
            staleClaimAge: min(configuration.node.lease, configuration.node.deadAfter) / 2)
        let listener = PostgresListener(configuration: postgres, channels: [Schema.notifyChannel], logger: logger)
        // Before any claim: a target limited in the file is never claimed for outside its limits.
        let controls = TargetControlApplier(
            driver: driver, capacity: capacity, leases: leases, claimDue: claimDue, metrics: metrics, logger: logger,
            fileLimits: configuration.targets.mapValues {
                TargetLimits(
                    rate: $0.rate?.perSecond, burst: $0.burst, globalConcurrency: $0.globalConcurrency, keyConcurrency: $0.keyConcurrency,
                    circuit: $0.circuit)
            })

        try await registerWhenReachable(driver) { [configuration, id, logger] in
            try await WebhookSettings.publish(configuration.webhook, node: id, on: pool)
            // The limits this node applies to attempts without their own, so operators see them before a first try.
            // Only operators' views read them: a refusal is logged, and the node runs (an outage is retried).
            do {
                try await pool.withConnection { connection in
                    try await NodeTargetDefaults.publish(
                        node: id, maxAttempts: configuration.servedTargets.mapValues(\.maxAttempts), on: connection)
                }
            } catch let error where !driver.isUnreachable(error) {
                logger.warning("could not store the targets' max_attempts for operators' views", metadata: ["error": "\(error)"])
            }
        }
        logger.info(
            "node started",
            metadata: [
                "node_id": "\(id)", "targets": "\(driver.registry.targets.joined(separator: ","))",
                "encryption_keys": "\(configuration.encryption?.keyIDs.joined(separator: ",") ?? "none")",
                "concurrency": .stringConvertible(node.concurrency),
            ])

        // The background services live until the node has drained and stopped (the recorder's last flush and the
        // release of leases need the engine and the pool); the claim loops stop at the graceful shutdown.
        await withTaskGroup(of: Void.self) { background in
            background.addTask { [engine, logger] in
                do { try await engine.run() } catch { logger.error("HTTP engine stopped", metadata: ["error": "\(error)"]) }
            }
            background.addTask { await listener.run() }
            background.addTask { [claimDue, capacity] in
                // One claim loop is enough for a NOTIFY (one per inserting statement): the others stay asleep
                // unless it is busy, instead of all claiming for the same rows.
                for await _ in listener.events {
                    capacity.wake()
                    claimDue.signalOne()
                }
            }
            background.addTask { await recorder.run() }
            background.addTask { [configuration, logger] in
                let retention = configuration.retention
                await AttemptPruner().runPeriodically(
                    policy: .init(succeeded: retention.succeeded, failed: retention.failed), interval: retention.interval, pool: pool, logger: logger)
            }

            // The heartbeat and the other periodic jobs run until the last outcomes are written (leases stay
            // renewed meanwhile) and stop before the node marks itself stopped: a heartbeat landing after that
            // would set the row back to draining.
            await withDiscardingTaskGroup { periodic in
                for service in periodicServices(driver: driver, controls: controls) {
                    periodic.addTask { try? await service.run() }
                }
                await withGracefulShutdownHandler {
                    await withDiscardingTaskGroup { claimers in
                        for index in 0..<node.claimers {
                            let loop = claimLoop(index, driver: driver, executor: executor, recorder: recorder)
                            claimers.addTask { await loop.run() }
                        }
                    }
                } onGracefulShutdown: { [self] in
                    draining.store(true, ordering: .releasing)
                    claimDue.signal()
                }
                await flushOutcomes(recorder)
                periodic.cancelAll()
            }
            await markStopped(driver)
            background.cancelAll()
        }
        await pool.close()
    }

    /// The claim loop number `index`.
    private func claimLoop(_ index: Int, driver: any WorkerDriver, executor: AttemptExecutor, recorder: OutcomeRecorder) -> ClaimLoop {
        let node = configuration.node
        return ClaimLoop(
            index: index,
            settings: .init(pollInterval: node.pollInterval, claimBatch: node.claimBatch, shutdownGrace: node.shutdownGrace),
            driver: driver, capacity: capacity, leases: leases, executor: executor, recorder: recorder, claimDue: claimDue,
            isDraining: { [self] in isDraining }, metrics: metrics, logger: logger, clock: .continuous)
    }

    /// The node's periodic jobs, each its own service on its own cadence (`NodeCadences`): the heartbeat with
    /// lease renewal and reaping, the unserved-targets warning, the read of the operator's target controls
    /// (these two first run one heartbeat after the start, so a fresh node reports at once) and the sweep of
    /// parked keyed attempts.
    private func periodicServices(driver: any WorkerDriver, controls applier: TargetControlApplier) -> [any Service] {
        let cadences = NodeCadences(heartbeat: configuration.node.heartbeat)
        let liveness = NodeLiveness(
            interval: cadences.heartbeat, deadAfter: configuration.node.deadAfter, driver: driver, leases: leases,
            renewal: LeaseRenewal(lease: configuration.node.lease),
            report: { [self] in
                var counters = metrics.totals
                counters["peak_in_flight"] = capacity.peak
                return (capacity.inFlight, counters, isDraining ? .draining : .active)
            },
            logger: logger, clock: .continuous, contact: databaseContact)
        let unserved = PeriodicJob(
            name: "unserved targets check", firstRunAfter: cadences.heartbeat, interval: cadences.unservedTargets, clock: .continuous, logger: logger
        ) {
            [logger] in
            let unserved = try await driver.unservedTargets()
            if !unserved.isEmpty {
                logger.warning(
                    "attempts are waiting for targets that no live node serves; start a node configured with them",
                    metadata: [
                        "targets": "\(unserved.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
                    ])
            }
        }
        let controls = PeriodicJob(
            name: "target controls read", firstRunAfter: cadences.targetControls, interval: cadences.targetControls, clock: .continuous,
            logger: logger
        ) {
            try await applier.apply(try await driver.targetControls())
        }
        let cursor = Mutex<Int64>(0)
        let sweep = PeriodicJob(
            name: "parked attempts sweep", firstRunAfter: cadences.parkedSweep, interval: cadences.parkedSweep, clock: .continuous,
            logger: logger
        ) {
            [logger] in
            let page = try await driver.promoteStrandedParked(after: cursor.withLock { $0 }, limit: ParkedSweep.pageSize)
            cursor.withLock { $0 = page.nextCursor }
            if page.promoted > 0 {
                logger.info("promoted parked keyed attempts whose key was free", metadata: ["attempts": .stringConvertible(page.promoted)])
            }
        }
        return [liveness, unserved, controls, sweep]
    }

    /// After the claim loops drained: writes the outcomes still buffered (at most 10 s).
    private func flushOutcomes(_ recorder: OutcomeRecorder) async {
        recorder.stop()
        let unwritten = await recorder.flushRemaining(until: .now + .seconds(10))
        if unwritten > 0 {
            logger.error(
                "could not record outcomes before stopping; those attempts run again after their leases",
                metadata: ["outcomes": .stringConvertible(unwritten)])
        }
    }

    /// Once the heartbeat has stopped: gives back every lease left and marks the node stopped.
    private func markStopped(_ driver: any WorkerDriver) async {
        do {
            let released = try await driver.releaseLeases()
            try await driver.setStatus(.stopped)
            logger.info(
                "node stopped",
                metadata: [
                    "released_leases": .stringConvertible(released), "counters": .dictionary(metrics.totals.mapValues { .stringConvertible($0) }),
                ])
        } catch {
            logger.error("could not mark the node stopped; its leases expire on their own", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Registration

    /// Registers the node and then runs `publish` (its webhook settings), both again while the database is
    /// unreachable: an outage at start delays the node, it does not stop it.
    private func registerWhenReachable(_ driver: any WorkerDriver, publish: () async throws -> Void) async throws {
        var failures = 0
        while true {
            do {
                try await driver.register()
                try await publish()
                databaseContact.reached()
                return
            } catch let error where driver.isUnreachable(error) {
                databaseContact.unreachable()
                failures += 1
                let delay = Backoff.databaseRetry.ceiling(afterAttempt: failures)
                logger.warning("database unreachable; retrying registration", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }
}
