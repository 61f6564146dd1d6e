import AsyncTaskTargets
import Foundation
import Logging
import Synchronization

/// Records outcomes in batches: one fenced UPDATE per flush, every `flushInterval` or `flushBatch` outcomes
/// (DESIGN §8), through the driver's `record` (`OutcomeWriter` for PostgreSQL).
///
/// Every write is fenced by `locked_by = this node AND num_attempts = the claimed number AND status =
/// 'pending'`: a node whose lease was lost (and re-claimed elsewhere, or expired by an operator) cannot
/// overwrite the newer state. Rejected writes are counted and logged, never retried. While the database is
/// unreachable outcomes wait in memory (bounded) and are written once it is back.
final class OutcomeRecorder: Sendable {
    private struct State {
        var buffer: [AttemptOutcome] = []
        /// When the outcome at the head of `buffer` was added (nil while it is empty).
        var oldestAddedAt: ContinuousClock.Instant?
        /// When each flush under way took its batch.
        var flushesUnderWay: [ContinuousClock.Instant] = []
        /// Outcomes taken by a flush and not yet written (part of the backlog).
        var writing = 0
        var stopped = false

        /// A flush that took `count` outcomes at `takenAt` has ended.
        mutating func endFlush(count: Int, takenAt: ContinuousClock.Instant) {
            writing -= count
            if let index = flushesUnderWay.firstIndex(of: takenAt) { flushesUnderWay.remove(at: index) }
        }
    }

    private let state = Mutex(State())
    private let wake: WakeSignal
    private let driver: any WorkerDriver
    private let clock: any WorkerClock
    private let flushInterval: Duration
    private let flushBatch: Int
    /// Flushes under way at most at once (`node.flushers`).
    private let flushers: Int
    private let maxBuffered: Int
    private let metrics: WorkerMetrics
    private let logger: Logger
    /// Called after each flush, so the claimer can use freed capacity at once, with the targets of keyed attempts
    /// that left `pending` (their keys' next attempts may be due now).
    private let onFlushed: @Sendable (_ keysMovedOn: Set<String>) -> Void
    /// Called with the attempts of each batch that is done with: written, fenced out or dropped (not one put
    /// back after an outage), so the node stops renewing their leases.
    private let onSettled: @Sendable ([ClaimedAttempt]) -> Void
    /// Where a flush's handovers come from and go: the room reserved for them before the flush, and the
    /// attempts it leased (nil: no handovers; the flush promotes every key's next attempt for a claim to take).
    private let handover: FlushHandover?

    init(
        driver: any WorkerDriver, clock: any WorkerClock = .continuous, flushInterval: Duration, flushBatch: Int, flushers: Int = 1,
        maxBuffered: Int, metrics: WorkerMetrics, logger: Logger, onFlushed: @escaping @Sendable (_ keysMovedOn: Set<String>) -> Void,
        onSettled: @escaping @Sendable ([ClaimedAttempt]) -> Void = { _ in }, handover: FlushHandover? = nil
    ) {
        self.driver = driver
        self.clock = clock
        self.wake = WakeSignal(clock: clock)
        self.flushInterval = flushInterval
        self.flushBatch = flushBatch
        self.flushers = max(1, flushers)
        self.maxBuffered = maxBuffered
        self.metrics = metrics
        self.logger = logger
        self.onFlushed = onFlushed
        self.onSettled = onSettled
        self.handover = handover
    }

    /// Outcomes waiting to be written.
    var backlog: Int { state.withLock { $0.buffer.count + $0.writing } }

    /// True while the backlog is at its bound: the node must stop claiming until it drains.
    var isFull: Bool { backlog >= maxBuffered }

    /// Queues an outcome for the next flush.
    func add(_ outcome: AttemptOutcome) {
        let now = clock.now
        let count = state.withLock { state in
            if state.buffer.isEmpty { state.oldestAddedAt = now }
            state.buffer.append(outcome)
            return state.buffer.count
        }
        if count == 1 || count >= flushBatch { wake.signal() }
    }

    /// Ends `run()` after its current flush; `flushRemaining` writes what is left.
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    /// Flushes until `stop()` or cancellation (call `flushRemaining` to write what is left): `flushers` loops,
    /// each taking its own batch, so one flush's round trip and statement overlap the next one's.
    func run() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<flushers {
                group.addTask { await self.flushLoop() }
            }
        }
    }

    /// Outcomes waiting for a flush to take them.
    private var untaken: Int { state.withLock { $0.buffer.count } }

    /// How long until the next flush is due: when the oldest untaken outcome has waited `flushInterval` (to let
    /// a few more join) and, while another flush is under way, that one has run for `overlapAfter`. Zero when a
    /// full batch waits.
    private var timeUntilFlushDue: Duration {
        let now = clock.now
        return state.withLock { state in
            guard state.buffer.count < flushBatch else { return .zero }
            var due = (state.oldestAddedAt ?? now) + flushInterval
            if let since = state.flushesUnderWay.min() { due = max(due, since + overlapAfter) }
            return max(.zero, now.duration(to: due))
        }
    }

    /// How long a flush runs before another may overlap it (with several `flushers`): twice the flush interval.
    /// A quick flush is waited for, so that the next one takes a fuller batch (fewer statements and commits); a
    /// slow one, such as a keyed drain's, which passes ordering keys on and hands their next attempts over, is
    /// overlapped, so that the keys' next attempts do not wait for it.
    private var overlapAfter: Duration { max(flushInterval * 2, .milliseconds(2)) }

    private func flushLoop() async {
        var failures = 0
        while !Task.isCancelled && !isStopped {
            if untaken == 0 { await wake.wait(timeout: .seconds(1)) }
            if Task.isCancelled || isStopped { break }
            guard untaken > 0 else { continue }
            let wait = timeUntilFlushDue
            if wait > .zero {
                try? await clock.sleep(for: wait)
                continue
            }
            do {
                // Full batches go back to back; a partial one waits for the next interval to fill. (Flushing
                // whatever arrived during the last flush made batches of one round trip's outcomes: a commit for
                // every few attempts at high rates.)
                repeat { try await flushOnce() } while untaken >= flushBatch
                failures = 0
            } catch {
                failures += 1
                let delay = Backoff.databaseRetry.ceiling(afterAttempt: failures)
                logger.warning(
                    "cannot record outcomes; keeping them in memory and retrying",
                    metadata: [
                        "error": "\(error)", "backlog": .stringConvertible(backlog), "retry_in": "\(delay)",
                    ])
                try? await clock.sleep(for: delay)
            }
        }
    }

    /// Writes everything still buffered, retrying connection failures until `deadline`.
    /// - Returns: the number of outcomes that could not be written (their leases will expire and the attempts
    ///   run again).
    func flushRemaining(until deadline: ContinuousClock.Instant) async -> Int {
        while backlog > 0 {
            do {
                try await flushOnce()
            } catch {
                if clock.now >= deadline { break }
                try? await clock.sleep(for: .milliseconds(200))
            }
        }
        return backlog
    }

    // A batch leaves the buffer when a flush takes it (and counts as `writing` until written), so `run()`'s
    // flush and `flushRemaining`'s, which overlap while a node stops, never take or remove the same outcomes.
    private func flushOnce() async throws {
        // Take the batch out of the buffer, so that concurrent flushes (the loop and a final flushRemaining)
        // write disjoint batches; a batch that could not be written goes back to the front.
        let sentAt = clock.now
        let batch = state.withLock { state in
            let batch = Array(state.buffer.prefix(flushBatch))
            state.buffer.removeFirst(batch.count)
            // The rest came later; when is not kept per outcome, so their wait counts from this take.
            state.oldestAddedAt = state.buffer.isEmpty ? nil : sentAt
            state.writing += batch.count
            if !batch.isEmpty { state.flushesUnderWay.append(sentAt) }
            return batch
        }
        guard !batch.isEmpty else {
            // Another flush is writing the rest: wait for it rather than spin.
            if backlog > 0 { try? await clock.sleep(for: .milliseconds(10)) }
            return
        }
        // The keys these outcomes may pass on, per target: the room for their next attempts.
        var wanted: [String: Int] = [:]
        for outcome in batch where outcome.attempt.orderingKey != nil && outcome.disposition.isFinal && !outcome.blocksKey {
            wanted[outcome.attempt.target, default: 0] += 1
        }
        let reservation = wanted.isEmpty ? .nothing : (handover?.reserve(wanted) ?? .nothing)
        let accepted: Set<Int64>
        do {
            let result = try await driver.record(batch, handover: reservation)
            accepted = result.accepted
            state.withLock { $0.endFlush(count: batch.count, takenAt: sentAt) }
            if let handover, !reservation.isEmpty || !result.handedOver.isEmpty {
                metrics.count(.claimed, result.handedOver.count)
                metrics.count(.handedOver, result.handedOver.count)
                await handover.commit(reservation, result.handedOver, sentAt)
            }
        } catch let error where driver.isRefusal(error) {
            if let handover, !reservation.isEmpty { await handover.commit(reservation, [], sentAt) }
            // Not an outage: the batch itself is refused. Drop it rather than block every later outcome; the
            // leases expire and the attempts run again (at-least-once).
            logger.error(
                "outcome batch refused by the database; dropping it, its attempts will run again after their leases",
                metadata: [
                    "error": "\(error)", "outcomes": .stringConvertible(batch.count),
                ])
            state.withLock { $0.endFlush(count: batch.count, takenAt: sentAt) }
            onSettled(batch.map(\.attempt))
            throw error
        } catch {
            if let handover, !reservation.isEmpty { await handover.commit(reservation, [], sentAt) }
            // An outage: keep the batch, first in line for the next flush.
            state.withLock { state in
                state.endFlush(count: batch.count, takenAt: sentAt)
                state.buffer.insert(contentsOf: batch, at: 0)
                state.oldestAddedAt = min(state.oldestAddedAt ?? sentAt, sentAt)
            }
            throw error
        }
        onSettled(batch.map(\.attempt))
        for outcome in batch where !accepted.contains(outcome.attempt.id) {
            metrics.count(.fencedRejects)
            logger.warning(
                "outcome rejected by the lease fence: the attempt was re-claimed or changed meanwhile",
                metadata: [
                    "attempt_id": .stringConvertible(outcome.attempt.id), "target": "\(outcome.attempt.target)",
                    "attempt_number": .stringConvertible(outcome.attempt.attemptNumber),
                ])
        }
        for outcome in batch where accepted.contains(outcome.attempt.id) {
            switch outcome.disposition {
            case .succeeded: metrics.count(.succeeded)
            case .failed: metrics.count(.failed)
            case .retry: metrics.count(.retried)
            case .release: metrics.count(.released)
            }
        }
        var keysMovedOn = Set<String>()
        for outcome in batch where outcome.attempt.orderingKey != nil && outcome.disposition != .release && accepted.contains(outcome.attempt.id) {
            if case .retry = outcome.disposition { continue }
            keysMovedOn.insert(outcome.attempt.target)
        }
        onFlushed(keysMovedOn)
    }
}
