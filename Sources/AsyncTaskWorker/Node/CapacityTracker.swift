import AsyncTask
import Synchronization

/// The node's slots and its prefetch buffer, shared by the claim loops and the running calls: a lock around a
/// `PrefetchBuffer` (the decisions) and a `PrefetchSizing` per target (its depth from its observed rate), so
/// claims never exceed `node.concurrency` + `node.prefetch`, calls never exceed `node.concurrency` or a target's
/// `concurrency`, and a call that ends hands its slot straight to the next buffered attempt.
///
/// Claim loops reserve room before they claim (`reserve`) and hand the reservation back after (`commit`), so
/// several loops claiming at once still never exceed a bound.
final class CapacityTracker: Sendable {
    private struct State {
        var buffer: PrefetchBuffer
        var sizing: [String: PrefetchSizing]
        var idleWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// The cluster-wide limits in force, of the targets that have any.
        var limits: [String: TargetLimits] = [:]
        /// Attempts handed over by outcome flushes that may start now (counted in flight), for a claim loop to
        /// give each a slot (`takeHandedOver`).
        var handedOver: [ClaimedAttempt] = []

        /// A target's prefetch depth, from its observed rate. A rate-limited target's is at most 25 ms of its
        /// rate: an attempt claimed ahead took its token at the claim and starts later, and the claim function
        /// keeps 75 ms of calls off the bucket, 25 of them for that (`Schema.ratePrefetchMarginMs`). (Under a `global_concurrency` an attempt claimed ahead
        /// counts as in flight while it waits, which errs on the safe side; it is claimed ahead only when the
        /// node's own slots are full.)
        /// A target with a `key_concurrency` or a circuit is never claimed ahead: an attempt waiting in the buffer
        /// would hold its key's slot without running, or start after its circuit opened.
        func depth(_ target: String, concurrency: Int) -> Int {
            if let limit = limits[target], limit.keyConcurrency != nil || limit.circuit != nil || limit.circuitNotClosed { return 0 }
            let depth = sizing[target]?.depth(concurrency: concurrency) ?? 0
            guard let rate = limits[target]?.rate else { return depth }
            return min(depth, Int(rate * Self.rateMargin))
        }

        /// The time of calls of a rate-limited target that may wait claimed ahead, in seconds (schema v11).
        static let rateMargin = Double(Schema.ratePrefetchMarginMs) / 1000
    }

    private let state: Mutex<State>
    let nodeLimit: Int
    let targetLimits: [String: Int]
    let prefetch: Int

    /// - Parameter prefetch: `node.prefetch`, the most attempts claimed ahead of free slots (0: none).
    init(nodeLimit: Int, targetLimits: [String: Int], prefetch: Int = 0) {
        self.nodeLimit = nodeLimit
        self.targetLimits = targetLimits
        self.prefetch = prefetch
        self.state = Mutex(
            State(
                buffer: PrefetchBuffer(nodeLimit: nodeLimit, targetLimits: targetLimits),
                sizing: targetLimits.mapValues { _ in PrefetchSizing(maximum: prefetch) }))
    }

    /// Reserves the room of the next claim (empty when no claim is due now), at most `batch` attempts.
    func reserve(batch: Int, at now: ContinuousClock.Instant) -> ClaimPlan {
        let limits = targetLimits
        return state.withLock { state in
            for (target, completed) in state.buffer.completed {
                state.sizing[target]?.observeCompletions(total: completed, at: now)
            }
            let snapshot = state
            var plan = state.buffer.reserve(
                batch: batch, depths: { snapshot.depth($0, concurrency: limits[$0] ?? 0) }, nodeDepth: prefetch)
            for cap in plan.caps {
                if let limit = state.limits[cap.target] { plan.limits[cap.target] = limit }
            }
            return plan
        }
    }

    /// Ends a reservation after a claim that took `duration`: the claimed attempts join the buffer; returns
    /// those that start now (in flight from here on; run each and call `finish` when it ends).
    func commit(_ reservation: ClaimPlan, claimed attempts: [ClaimedAttempt], took duration: Duration? = nil) -> [ClaimedAttempt] {
        state.withLock { state in
            if let duration {
                for cap in reservation.caps { state.sizing[cap.target]?.observeClaim(duration) }
            }
            return state.buffer.commit(reservation, claimed: attempts)
        }
    }

    /// Reserves room for the attempts an outcome flush may lease to this node (the next attempt of each ordering
    /// key it passes on; `wanted` per target): none for a target that has a cluster-wide limit or a circuit,
    /// whose attempts only the claim function may lease. Hand it back to `commitHandover`.
    func reserveHandover(_ wanted: [String: Int]) -> ClaimPlan {
        state.withLock { state in
            let limits = state.limits
            let unlimited = wanted.filter { limits[$0.key] == nil }
            guard !unlimited.isEmpty else { return .nothing }
            return state.buffer.reserveHandover(unlimited, nodeDepth: prefetch)
        }
    }

    /// Ends a handover reservation with the attempts the flush leased: they join the buffer, and those that can
    /// start now wait for a claim loop (`takeHandedOver`); returns how many. After `close()` none start
    /// (`closedClaims` returns them, for release).
    @discardableResult
    func commitHandover(_ reservation: ClaimPlan, leased attempts: [ClaimedAttempt]) -> Int {
        state.withLock { state in
            let starting = state.buffer.commitHandover(reservation, leased: attempts)
            state.handedOver += starting
            return starting.count
        }
    }

    /// The handed-over attempts that may start now (already counted in flight): run each in a slot and call
    /// `finish` when it ends. A claim loop takes them when woken and once more after `close()`, after which no
    /// more arrive.
    func takeHandedOver() -> [ClaimedAttempt] {
        state.withLock { state in
            defer { state.handedOver = [] }
            return state.handedOver
        }
    }

    /// One call of `target` ended: returns the attempt to run next in its slot, if one is buffered and fits the
    /// caps, and whether a claim is now due.
    func finish(target: String) -> (next: ClaimedAttempt?, refill: Bool) {
        let (result, waiters) = state.withLock { state -> ((next: ClaimedAttempt?, refill: Bool), [CheckedContinuation<Void, Never>]) in
            let depth = state.depth(target, concurrency: targetLimits[target] ?? 0)
            let result = state.buffer.finish(target: target, depth: depth)
            guard state.buffer.inFlight == 0 else { return (result, []) }
            defer { state.idleWaiters = [:] }
            return (result, Array(state.idleWaiters.values))
        }
        for waiter in waiters { waiter.resume() }
        return result
    }

    /// Up to `limit` buffered attempts of `target` that may start now, counted in flight.
    func take(target: String, limit: Int) -> [ClaimedAttempt] {
        state.withLock { $0.buffer.take(target: target, limit: limit) }
    }

    /// Sets the targets an operator has paused; returns the buffered attempts of paused targets (never started,
    /// for release) and whether a target was resumed.
    func pause(_ targets: Set<String>) -> (unstarted: [ClaimedAttempt], resumed: Bool) {
        state.withLock { $0.buffer.pause(targets) }
    }

    /// New work may be due: targets whose last claim came back short are claimed for again.
    func wake() { state.withLock { $0.buffer.wake() } }

    /// `targets`, held back by a cluster-wide limit, may be claimed for again.
    func wake(_ targets: some Sequence<String> & Sendable) { state.withLock { $0.buffer.wake(targets) } }

    /// `targets` are held back by their cluster-wide limit until woken.
    func hold(_ targets: some Sequence<String> & Sendable) { state.withLock { $0.buffer.hold(targets) } }

    /// Outcomes were written, releasing leases: targets with a `global_concurrency` may be claimed for again.
    func wakeGloballyCapped() { state.withLock { $0.buffer.wakeGloballyCapped() } }

    /// Sets the cluster-wide limits in force (every limited target's; a target missing from it has none).
    func setLimits(_ limits: [String: TargetLimits]) {
        state.withLock { state in
            state.limits = limits.filter(\.value.isLimited)
            state.buffer.setGloballyCapped(Set(state.limits.filter(\.value.countsLeases).keys))
        }
    }

    /// Stops starting buffered attempts and reserving; returns the buffered ones (never started) for release.
    func close() -> [ClaimedAttempt] { state.withLock { $0.buffer.close() } }

    /// After `close()`, attempts a claim under way brought in late, for release.
    func closedClaims() -> [ClaimedAttempt] { state.withLock { $0.buffer.closedClaims() } }

    /// Calls in flight now.
    var inFlight: Int { state.withLock { $0.buffer.inFlight } }
    /// Attempts claimed ahead of free slots now.
    var buffered: Int { state.withLock { $0.buffer.buffered } }
    /// Highest count of calls in flight since start.
    var peak: Int { state.withLock { $0.buffer.peak } }
    /// Calls in flight per target.
    var perTarget: [String: Int] { state.withLock { $0.buffer.inFlightPerTarget } }

    /// Returns once nothing is in flight, or when the task is cancelled.
    func waitUntilIdle() async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let idle = state.withLock { state -> Bool in
                    if state.buffer.inFlight == 0 || Task.isCancelled { return true }
                    state.idleWaiters[id] = continuation
                    return false
                }
                if idle { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.idleWaiters.removeValue(forKey: id) }?.resume()
        }
    }
}
