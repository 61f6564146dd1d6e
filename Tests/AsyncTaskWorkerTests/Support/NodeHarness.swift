import AsyncTask
import AsyncTaskTargets
import Logging
import Synchronization
import Testing

@testable import AsyncTaskWorker

/// The node's claim loop, executor and recorder wired to an in-memory driver, a scripted caller and a manual
/// clock, as `WorkerNode.run` wires them to PostgreSQL and libcurl.
struct NodeHarness: Sendable {
    let clock = ManualClock()
    let driver: InMemoryWorkerDriver
    let caller: ScriptedCaller
    let capacity: CapacityTracker
    let leases = HeldLeases()
    let recorder: OutcomeRecorder
    let loop: ClaimLoop
    let claimDue: WakeSignal
    /// Applies operator pauses and limits as the node's periodic read does.
    let controls: TargetControlApplier
    private let drainingBox: DrainFlag

    /// A flag shared by the harness and its loop.
    final class DrainFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// - Parameters:
    ///   - targets: served targets, by name, with their `concurrency`.
    ///   - nodeConcurrency: `node.concurrency`.
    ///   - prefetch: `node.prefetch`.
    ///   - globalConcurrency: targets' `global_concurrency`, as the config file would set it.
    init(
        targets: [String: Int], nodeConcurrency: Int = 10, prefetch: Int = 0, globalConcurrency: [String: Int] = [:], maxAttempts: Int = 5,
        lease: Duration = .seconds(30),
        pollInterval: Duration = .seconds(1), shutdownGrace: Duration = .seconds(5), caller: ScriptedCaller = .succeeding
    ) throws {
        let clock = clock
        driver = InMemoryWorkerDriver(clock: clock, lease: lease)
        self.caller = caller
        capacity = CapacityTracker(nodeLimit: nodeConcurrency, targetLimits: targets, prefetch: prefetch)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let metrics = WorkerMetrics()
        let claimDue = WakeSignal(clock: clock)
        self.claimDue = claimDue
        let leases = leases
        recorder = OutcomeRecorder(
            driver: driver, clock: clock, flushInterval: .zero, flushBatch: 100, maxBuffered: 10_000, metrics: metrics, logger: logger,
            onFlushed: { [capacity] keysMovedOn in
                capacity.wakeGloballyCapped()
                capacity.wake(keysMovedOn)
                claimDue.signalOne()
            }, onSettled: { leases.remove($0) },
            handover: .node(
                capacity: capacity, leases: leases, claimDue: claimDue,
                release: UnstartedRelease(driver: driver, leases: leases, metrics: metrics, logger: logger)))
        var configurations: [String: TargetConfiguration] = [:]
        for (name, concurrency) in targets {
            configurations[name] = try TargetConfiguration(
                name: name, url: "http://127.0.0.1:1/\(name)", maxAttempts: maxAttempts,
                backoff: Backoff(base: .milliseconds(1), max: .milliseconds(1)), concurrency: concurrency)
        }
        let executor = AttemptExecutor(
            targets: configurations, caller: caller, batches: BatchDispatcher { calls, _ in calls.map { _ in .succeeded(status: 200, excerpt: "") } },
            encryptor: NullEncryptor(), webhook: nil, metrics: metrics, logger: logger, clock: clock)
        controls = TargetControlApplier(
            driver: driver, capacity: capacity, leases: leases, claimDue: claimDue, metrics: metrics, logger: logger,
            fileLimits: globalConcurrency.mapValues { TargetLimits(globalConcurrency: $0) })
        let flag = DrainFlag()
        drainingBox = flag
        loop = ClaimLoop(
            index: 0, settings: .init(pollInterval: pollInterval, claimBatch: 50, shutdownGrace: shutdownGrace), driver: driver,
            capacity: capacity, leases: leases, executor: executor, recorder: recorder, claimDue: claimDue,
            isDraining: { flag.value.load(ordering: .acquiring) }, metrics: metrics, logger: logger, clock: clock)
    }

    /// Starts the graceful shutdown: the claim loop stops claiming and drains.
    func drain() {
        drainingBox.value.store(true, ordering: .releasing)
        claimDue.signal()
    }

    /// Runs the claim loop and the recorder while `body` runs, then drains and writes what is left.
    func run(_ body: @Sendable (NodeHarness) async throws -> Void) async rethrows {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                await recorder.run()
                return true
            }
            group.addTask {
                await loop.run()
                return true
            }
            try await body(self)
            drain()
            // A watchdog in real time: a node that does not stop fails its test instead of hanging the run.
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return false
            }
            // The loop returns once its calls ended (or the grace, on the manual clock, passed).
            var stopped = 0
            while stopped < 2, let finished = try await group.next() {
                guard finished else {
                    Issue.record("the node loop did not stop within 30 s of the drain")
                    break
                }
                stopped += 1
                recorder.stop()
            }
            group.cancelAll()
            _ = await recorder.flushRemaining(until: clock.now)
        }
    }
}
