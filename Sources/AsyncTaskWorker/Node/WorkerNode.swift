import AsyncTask
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
                shutdownBehavior: .finishInFlight(grace: configuration.node.shutdownGrace + .seconds(5))),
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

    public func run() async throws {
        let postgres = try PostgresConfiguration(url: configuration.databaseURL, applicationName: "asynctask-worker")
        let pool = PostgresConnectionPool(
            configuration: postgres, options: .init(maxConnections: configuration.databasePoolSize, acquireTimeout: .seconds(10)), logger: logger)
        let registry = NodeRegistry(node: configuration.node, targets: configuration.servedTargets.keys.sorted(), version: version, logger: logger)
        let claimDue = self.claimDue
        let recorder = OutcomeRecorder(
            pool: pool, nodeID: configuration.node.id, flushInterval: configuration.node.flushInterval,
            flushBatch: configuration.node.flushBatch, maxBuffered: configuration.node.maxBufferedOutcomes,
            metrics: metrics, logger: logger, onFlushed: { claimDue.signal() }, onSettled: { [leases] in leases.remove($0) })
        recorderBacklog.withLock { $0 = { recorder.backlog } }
        let executor = AttemptExecutor(
            targets: configuration.targets, caller: TargetCaller(engine: engine),
            batches: BatchDispatcher(caller: TargetCaller(engine: engine), logger: logger), encryptor: configuration.encryptor,
            webhook: configuration.webhook.map { WebhookDelivery(configuration: $0, engine: engine) }, metrics: metrics, logger: logger)
        let listener = PostgresListener(configuration: postgres, channels: [Schema.notifyChannel], logger: logger)

        try await registerWhenReachable(registry, pool: pool)
        try await WebhookSettings.publish(configuration.webhook, node: id, on: pool)
        logger.info("node started", metadata: [
            "node_id": "\(id)", "targets": "\(registry.targets.joined(separator: ","))",
            "encryption_keys": "\(configuration.encryption?.keyIDs.joined(separator: ",") ?? "none")",
            "concurrency": "\(configuration.node.concurrency)",
        ])

        await withTaskGroup(of: Void.self) { background in
            background.addTask { [engine, logger] in
                do { try await engine.run() } catch { logger.error("HTTP engine stopped", metadata: ["error": "\(error)"]) }
            }
            background.addTask { await listener.run() }
            background.addTask { [claimDue, capacity] in
                for await _ in listener.events {
                    capacity.wake()
                    claimDue.signal()
                }
            }
            background.addTask { await recorder.run() }
            background.addTask { [self] in await heartbeatLoop(registry, pool: pool) }
            background.addTask { [configuration, logger] in
                let retention = configuration.retention
                await AttemptPruner().runPeriodically(
                    policy: .init(succeeded: retention.succeeded, failed: retention.failed), interval: retention.interval, pool: pool, logger: logger)
            }

            await withGracefulShutdownHandler {
                // Several claim loops overlap their round trips (one claims while another's batch is being
                // locked and returned); capacity reservations keep the caps exact across them. Each loop owns
                // the calls it started, and after a drain cancels those still running when the grace ends.
                await withDiscardingTaskGroup { claimers in
                    for index in 0..<configuration.node.claimers {
                        claimers.addTask { [self] in
                            await withDiscardingTaskGroup { executions in
                                let claimer = AttemptClaimer(nodeID: id, lease: configuration.node.lease)
                                await claimLoop(pool: pool, claimer: claimer, executor: executor, recorder: recorder, executions: &executions)
                                // Attempts claimed ahead and never started go back at once, so other nodes run them
                                // while this one's calls finish (a loop still claiming brings its rows here too).
                                await releaseUnstarted(capacity.close(), claimer: claimer, pool: pool)
                                if index == 0 {
                                    logger.info("draining: no more claims; waiting for in-flight calls", metadata: [
                                        "in_flight": "\(capacity.inFlight)", "grace": "\(configuration.node.shutdownGrace)",
                                    ])
                                }
                                if !(await waitForIdle(upTo: configuration.node.shutdownGrace)) {
                                    logger.warning("shutdown grace over; cancelling the calls still in flight", metadata: ["in_flight": "\(capacity.inFlight)"])
                                    executions.cancelAll()
                                }
                            }
                        }
                    }
                }
            } onGracefulShutdown: { [self] in
                draining.store(true, ordering: .releasing)
                claimDue.signal()
            }

            recorder.stop()
            let unwritten = await recorder.flushRemaining(until: .now + .seconds(10))
            if unwritten > 0 {
                logger.error("could not record outcomes before stopping; those attempts run again after their leases", metadata: ["outcomes": "\(unwritten)"])
            }
            do {
                let released = try await registry.releaseLeases(on: pool)
                try await registry.setStatus(.stopped, on: pool)
                logger.info("node stopped", metadata: ["released_leases": "\(released)", "counters": .dictionary(metrics.totals.mapValues { .stringConvertible($0) })])
            } catch {
                logger.error("could not mark the node stopped; its leases expire on their own", metadata: ["error": "\(error)"])
            }
            background.cancelAll()
        }
        await pool.close()
    }

    // MARK: - Loops

    private func registerWhenReachable(_ registry: NodeRegistry, pool: PostgresConnectionPool) async throws {
        var delay = Duration.milliseconds(200)
        while true {
            do {
                try await registry.register(on: pool)
                return
            } catch let error as PostgresError where error.isConnectionLoss || error.code == .poolTimeout {
                logger.warning("database unreachable; retrying registration", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func claimLoop(
        pool: PostgresConnectionPool, claimer: AttemptClaimer, executor: AttemptExecutor, recorder: OutcomeRecorder,
        executions: inout DiscardingTaskGroup
    ) async {
        let poll = configuration.node.pollInterval
        var failures = 0
        // Targets whose claim came back short are left alone until a NOTIFY or, for scheduled and retried
        // attempts, until the poll interval passes.
        var lastPoll = ContinuousClock.now
        while !isDraining && !Task.isCancelled {
            if ContinuousClock.now - lastPoll >= poll {
                capacity.wake()
                lastPoll = .now
            }
            if recorder.isFull {
                await claimDue.wait(timeout: poll)
                continue
            }
            let reservation = capacity.reserve(batch: configuration.node.claimBatch)
            if reservation.caps.isEmpty {
                // Nothing due a claim: the buffer is deep enough, the slots are full, or every target is quiet.
                await claimDue.wait(timeout: max(.milliseconds(1), lastPoll + poll - ContinuousClock.now))
                continue
            }
            let claimed: [ClaimedAttempt]
            let started = ContinuousClock.now
            do {
                claimed = try await pool.withConnection { try await claimer.claim(reservation, on: $0) }
                leases.insert(claimed)
                failures = 0
            } catch {
                _ = capacity.commit(reservation, claimed: [])
                failures += 1
                let delay = Duration.milliseconds(min(5000, 100 << min(failures, 6)))
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("claim failed; pausing claims", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                }
                await claimDue.wait(timeout: delay)
                capacity.wake()
                continue
            }
            let starting = capacity.commit(reservation, claimed: claimed, took: ContinuousClock.now - started)
            metrics.claimBatchSize.record(claimed.count)
            if !claimed.isEmpty { metrics.count(.claimed, claimed.count) }
            for attempt in starting {
                executions.addTask { [self] in await runSlot(attempt, executor: executor, recorder: recorder) }
            }
        }
    }

    /// Runs calls in one slot: the attempt given, then, as each call ends, the next buffered attempt the caps
    /// let start, until the buffer has none. The outcome goes to the recorder, which writes it later: the slot
    /// never waits for a database round trip.
    private func runSlot(_ first: ClaimedAttempt, executor: AttemptExecutor, recorder: OutcomeRecorder) async {
        var attempt = first
        metrics.inFlight.record(capacity.inFlight)
        while true {
            let outcome = await executor.execute(attempt)
            recorder.add(outcome)
            let (next, refill) = capacity.finish(target: attempt.target)
            if refill { claimDue.signal() }
            guard let next else { break }
            attempt = next
        }
        metrics.inFlight.record(capacity.inFlight)
    }

    /// Gives back the leases of attempts claimed and never started (a draining node's prefetch buffer).
    private func releaseUnstarted(_ attempts: [ClaimedAttempt], claimer: AttemptClaimer, pool: PostgresConnectionPool) async {
        guard !attempts.isEmpty else { return }
        do {
            let released = try await pool.withConnection { try await claimer.release(attempts, on: $0) }
            metrics.count(.released, released)
            logger.info("draining: released the attempts claimed ahead and not started", metadata: ["released": "\(released)"])
        } catch {
            // Not renewed from here on: their leases lapse and they run elsewhere (or the stop releases them).
            logger.warning("could not release the attempts claimed ahead; their leases will lapse", metadata: [
                "error": "\(error)", "attempts": "\(attempts.count)",
            ])
        }
        leases.remove(attempts)
    }

    private func waitForIdle(upTo grace: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [capacity] in
                await capacity.waitUntilIdle()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if first { return true }
            // The sleeper won; the idle waiter stays parked until executions are cancelled and finish.
            return false
        }
    }

    // Reaping judges other nodes by their heartbeat_at, which only says something while the database took
    // heartbeats: right after an outage every node's is stale, and the first node back would declare the others
    // dead and release the leases of calls they are still making (each then runs twice). So a node reaps only
    // once its own heartbeats have gone through for `dead_after` without a failure, time enough for every live
    // node to beat again.
    private func heartbeatLoop(_ registry: NodeRegistry, pool: PostgresConnectionPool) async {
        var beat = 0
        var reachableSince: ContinuousClock.Instant? = .now
        // Set at the first failed heartbeat; the next one that goes through logs one "reachable again" line.
        var failingSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.node.heartbeat)
            if Task.isCancelled { return }
            beat += 1
            var counters = metrics.totals
            counters["peak_in_flight"] = capacity.peak
            do {
                let previous = try await registry.heartbeat(
                    inFlight: capacity.inFlight, counters: counters, status: isDraining ? .draining : .active, on: pool)
                if previous == nil {
                    logger.warning("this node's row vanished; registering again")
                    try await registry.register(on: pool)
                } else if previous == .dead {
                    logger.warning("another node declared this node dead (it was paused or cut off); its leases were released and its late outcomes will be fenced out")
                }
                let renewed = try await registry.renewLeases(leases, on: pool)
                if renewed > 0 { logger.debug("renewed leases", metadata: ["count": "\(renewed)"]) }
                let since = reachableSince ?? .now
                reachableSince = since
                if let failed = failingSince {
                    failingSince = nil
                    let seconds = Double((ContinuousClock.now - failed).components.seconds)
                    logger.notice("database reachable again", metadata: ["unreachable_seconds": .stringConvertible(seconds)])
                }
                let reaped = ContinuousClock.now - since >= configuration.node.deadAfter
                    ? try await registry.reapDeadNodes(on: pool) : (nodes: [], released: 0)
                if !reaped.nodes.isEmpty {
                    logger.warning("marked silent nodes dead and released their leases", metadata: [
                        "nodes": "\(reaped.nodes.joined(separator: ", "))", "released": "\(reaped.released)",
                    ])
                }
                if beat % 15 == 1 {
                    let unserved = try await registry.unservedTargets(on: pool)
                    if !unserved.isEmpty {
                        logger.warning("attempts are waiting for targets that no live node serves; start a node configured with them", metadata: [
                            "targets": "\(unserved.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                        ])
                    }
                }
            } catch {
                reachableSince = nil
                if failingSince == nil { failingSince = .now }
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
