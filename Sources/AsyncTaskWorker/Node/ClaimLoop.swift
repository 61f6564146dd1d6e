import AsyncTaskCore
import AsyncTaskTargets
import CoreMetrics
import Logging

/// One of the node's claim loops: claims what the prefetch buffer plans (`CapacityTracker.reserve`), starts the
/// attempts the caps let start, each in a slot that runs buffered attempts back to back, and hands every outcome
/// to the recorder. On drain it stops claiming, gives back what it claimed ahead and never started, and lets its
/// calls finish for up to the grace before cancelling them.
///
/// Several loops overlap their round trips (one claims while another's batch is being locked and returned);
/// capacity reservations keep the caps exact across them. Each loop owns the calls it started.
struct ClaimLoop: Sendable {
    /// The cadences and bounds of a claim loop, from `node.*`.
    struct Settings: Sendable {
        /// `node.poll_interval`: how often quiet targets are claimed for again without a NOTIFY.
        var pollInterval: Duration
        /// `node.claim_batch`: the most attempts one claim takes.
        var claimBatch: Int
        /// `node.shutdown_grace`: how long in-flight calls may run after the drain began.
        var shutdownGrace: Duration
    }

    /// The loop's number (loop 0 logs the drain for all).
    let index: Int
    let settings: Settings
    let driver: any WorkerDriver
    let capacity: CapacityTracker
    let leases: HeldLeases
    let executor: AttemptExecutor
    let recorder: OutcomeRecorder
    /// Wakes the loop: new work announced, a buffer fell to its refill mark, outcomes flushed, or the drain.
    let claimDue: WakeSignal
    /// True once the node drains.
    let isDraining: @Sendable () -> Bool
    let metrics: WorkerMetrics
    let logger: Logger
    let clock: any WorkerClock

    /// Claims until the drain (or cancellation), then releases, waits for its calls, and returns.
    func run() async {
        await withDiscardingTaskGroup { executions in
            await claim(into: &executions)
            // Attempts claimed ahead and never started go back at once, so other nodes run them while this one's
            // calls finish (a loop still claiming brings its rows here too).
            await UnstartedRelease(driver: driver, leases: leases, metrics: metrics, logger: logger)(capacity.close(), because: .draining)
            // Handed over before the close and counted in flight: they run (none arrive after the close).
            for attempt in capacity.takeHandedOver() {
                executions.addTask { await runSlot(attempt) }
            }
            if index == 0 {
                logger.info(
                    "draining: no more claims; waiting for in-flight calls",
                    metadata: [
                        "in_flight": .stringConvertible(capacity.inFlight), "grace": "\(settings.shutdownGrace)",
                    ])
            }
            if !(await waitForIdle(upTo: settings.shutdownGrace)) {
                logger.warning(
                    "shutdown grace over; cancelling the calls still in flight", metadata: ["in_flight": .stringConvertible(capacity.inFlight)])
                executions.cancelAll()
            }
        }
    }

    private func claim(into executions: inout DiscardingTaskGroup) async {
        let poll = settings.pollInterval
        var failures = 0
        // Targets whose claim came back short are left alone until a NOTIFY or, for scheduled and retried
        // attempts, until the poll interval passes.
        var lastPoll = clock.now
        // Limited targets a limit held back, and when a claim may get more for them.
        var throttled: [String: ContinuousClock.Instant] = [:]
        while !isDraining() && !Task.isCancelled {
            // The next attempts of ordering keys that an outcome flush leased to this node and that may start.
            for attempt in capacity.takeHandedOver() {
                executions.addTask { await runSlot(attempt) }
            }
            if clock.now - lastPoll >= poll {
                capacity.wake()
                lastPoll = clock.now
            }
            if !throttled.isEmpty {
                let now = clock.now
                let ready = throttled.filter { $0.value <= now }.map(\.key)
                if !ready.isEmpty {
                    capacity.wake(ready)
                    for target in ready { throttled[target] = nil }
                }
            }
            // Wait no longer than the first throttled target's time, nor the poll.
            let wakeAt = min(lastPoll + poll, throttled.values.min() ?? lastPoll + poll)
            if recorder.isFull {
                await claimDue.wait(timeout: poll)
                continue
            }
            let plan = capacity.reserve(batch: settings.claimBatch, at: clock.now)
            if plan.caps.isEmpty {
                // Nothing due a claim: the buffer is deep enough, the slots are full, or every target is quiet.
                await claimDue.wait(timeout: max(.milliseconds(1), wakeAt - clock.now))
                continue
            }
            let claimed: [ClaimedAttempt]
            var throttledNow: [String] = []
            let started = clock.now
            do {
                let result = try await driver.claim(plan)
                // Stamped with when the claim was sent: no lease it returns began earlier.
                claimed = result.attempts.map { attempt in
                    var attempt = attempt
                    attempt.claimedAt = started
                    return attempt
                }
                leases.insert(claimed)
                for (target, wait) in result.throttled {
                    throttled[target] = started + wait
                    throttledNow.append(target)
                    metrics.throttled(target: target)
                }
                failures = 0
            } catch {
                _ = capacity.commit(plan, claimed: [])
                failures += 1
                let delay = Backoff.databaseRetry.ceiling(afterAttempt: failures)
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("claim failed; pausing claims", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                }
                await claimDue.wait(timeout: delay)
                capacity.wake()
                continue
            }
            let took = clock.now - started
            metrics.claimDuration.recordNanoseconds(took.nanoseconds)
            let starting = capacity.commit(plan, claimed: claimed, took: took)
            // After the commit, which may have judged them otherwise: a throttled target waits for its time.
            capacity.hold(throttledNow)
            metrics.claimBatchSize.record(claimed.count)
            if !claimed.isEmpty { metrics.count(.claimed, claimed.count) }
            for attempt in starting {
                executions.addTask { await runSlot(attempt) }
            }
        }
    }

    /// Runs calls in one slot: the attempt given, then, as each call ends, the next buffered attempt the caps
    /// let start, until the buffer has none. The outcome goes to the recorder, which writes it later: the slot
    /// never waits for a database round trip.
    private func runSlot(_ first: ClaimedAttempt) async {
        var attempt = first
        metrics.inFlight.record(capacity.inFlight)
        while true {
            let outcome = await executor.execute(attempt)
            recorder.add(outcome)
            let (next, refill) = capacity.finish(target: attempt.target)
            if refill { claimDue.signalOne() }
            guard let next else { break }
            attempt = next
        }
        metrics.inFlight.record(capacity.inFlight)
    }

    private func waitForIdle(upTo grace: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [capacity] in
                await capacity.waitUntilIdle()
                return true
            }
            group.addTask { [clock] in
                try? await clock.sleep(for: grace)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            // When the sleeper won, the idle waiter stays parked until executions are cancelled and finish.
            return first
        }
    }
}
