import Synchronization

/// Counts the calls in flight on this node, in total and per target, so claims never exceed
/// `node.concurrency` or a target's `concurrency`.
///
/// Claim loops reserve capacity before they claim (`reserve`) and turn the reservation into calls in flight
/// after (`commit`), so several loops claiming at once still never exceed a cap; executions remove as they
/// finish.
final class CapacityTracker: Sendable {
    private struct State {
        var total = 0
        var perTarget: [String: Int] = [:]
        var reservedTotal = 0
        var reservedPerTarget: [String: Int] = [:]
        var peak = 0
        var idleWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())
    let nodeLimit: Int
    let targetLimits: [String: Int]

    /// The targets in the order reservations visit them (sorted once, not per claim).
    private let targets: [String]

    init(nodeLimit: Int, targetLimits: [String: Int]) {
        self.nodeLimit = nodeLimit
        self.targetLimits = targetLimits
        self.targets = targetLimits.keys.sorted()
    }

    /// Slots reserved for one claim: at most `total` attempts in all, at most `limit` of each target.
    struct Reservation {
        /// Each target with free slots, and how many of its attempts the claim may take.
        var caps: [(target: String, limit: Int)]
        /// How many attempts the claim may take in all: the node's free slots (at most the batch), at most the caps' sum.
        var total: Int
    }

    /// Reserves the slots for the next claim: the node's free slots (at most `batch`) in all, and for each target
    /// with free slots, up to that many of its own. Every target gets the whole node share as its cap, so a
    /// target with nothing due never holds slots another target could use; the claim takes the `total` most
    /// urgent due attempts within the caps. Targets without free slots are left out. Hand the result back to
    /// `commit` once the claim returned (or failed).
    func reserve(batch: Int) -> Reservation {
        state.withLock { state in
            let nodeFree = min(nodeLimit - state.total - state.reservedTotal, batch)
            var caps: [(target: String, limit: Int)] = []
            guard nodeFree > 0 else { return Reservation(caps: [], total: 0) }
            for target in targets {
                let used = (state.perTarget[target] ?? 0) + (state.reservedPerTarget[target] ?? 0)
                let free = min(nodeFree, (targetLimits[target] ?? 0) - used)
                guard free > 0 else { continue }
                caps.append((target, free))
                state.reservedPerTarget[target, default: 0] += free
            }
            let total = min(nodeFree, caps.reduce(0) { $0 + $1.limit })
            state.reservedTotal += total
            return Reservation(caps: caps, total: total)
        }
    }

    /// Ends a reservation: the claimed attempts become calls in flight, the unused slots are free again.
    func commit(_ reservation: Reservation, claimed attempts: [ClaimedAttempt]) {
        state.withLock { state in
            for cap in reservation.caps {
                state.reservedPerTarget[cap.target, default: 0] -= cap.limit
            }
            state.reservedTotal -= reservation.total
            for attempt in attempts { state.perTarget[attempt.target, default: 0] += 1 }
            state.total += attempts.count
            state.peak = max(state.peak, state.total)
        }
    }

    /// One attempt of `target` finished.
    func remove(target: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.total -= 1
            state.perTarget[target, default: 1] -= 1
            guard state.total == 0 else { return [] }
            defer { state.idleWaiters = [:] }
            return Array(state.idleWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Calls in flight now.
    var inFlight: Int { state.withLock { $0.total } }
    /// Highest count of calls in flight since start.
    var peak: Int { state.withLock { $0.peak } }
    /// Calls in flight per target.
    var perTarget: [String: Int] { state.withLock { $0.perTarget } }

    /// Returns once nothing is in flight, or when the task is cancelled.
    func waitUntilIdle() async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let idle = state.withLock { state -> Bool in
                    if state.total == 0 || Task.isCancelled { return true }
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
