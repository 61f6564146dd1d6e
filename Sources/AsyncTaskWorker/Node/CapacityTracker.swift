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

    init(nodeLimit: Int, targetLimits: [String: Int]) {
        self.nodeLimit = nodeLimit
        self.targetLimits = targetLimits
    }

    /// Reserves the slots for the next claim and returns them as per-target limits: each target's free slots,
    /// together none above the node's free slots or `batch`; targets without free slots are left out. Hand the
    /// result back to `commit` once the claim returned (or failed).
    func reserve(batch: Int) -> [(target: String, limit: Int)] {
        state.withLock { state in
            var nodeFree = min(nodeLimit - state.total - state.reservedTotal, batch)
            var caps: [(target: String, limit: Int)] = []
            for target in targetLimits.keys.sorted() where nodeFree > 0 {
                let used = (state.perTarget[target] ?? 0) + (state.reservedPerTarget[target] ?? 0)
                let free = min(nodeFree, (targetLimits[target] ?? 0) - used)
                guard free > 0 else { continue }
                caps.append((target, free))
                state.reservedPerTarget[target, default: 0] += free
                state.reservedTotal += free
                nodeFree -= free
            }
            return caps
        }
    }

    /// Ends a reservation: the claimed attempts become calls in flight, the unused slots are free again.
    func commit(_ reservation: [(target: String, limit: Int)], claimed attempts: [ClaimedAttempt]) {
        state.withLock { state in
            for cap in reservation {
                state.reservedPerTarget[cap.target, default: 0] -= cap.limit
                state.reservedTotal -= cap.limit
            }
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
