import Synchronization

/// Counts the calls in flight on this node, in total and per target, so claims never exceed
/// `node.concurrency` or a target's `concurrency`.
///
/// Only the claim loop adds (after a claim sized by `freeCapacity`), so the caps hold at every moment;
/// executions remove as they finish.
final class CapacityTracker: Sendable {
    private struct State {
        var total = 0
        var perTarget: [String: Int] = [:]
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

    /// Per-target limits for the next claim: each target's free slots, none above the node's free slots or
    /// `batch`; targets without free slots are left out.
    func freeCapacity(batch: Int) -> [(target: String, limit: Int)] {
        state.withLock { state in
            let nodeFree = min(nodeLimit - state.total, batch)
            guard nodeFree > 0 else { return [] }
            return targetLimits.keys.sorted().compactMap { target in
                let free = min(nodeFree, (targetLimits[target] ?? 0) - (state.perTarget[target] ?? 0))
                return free > 0 ? (target, free) : nil
            }
        }
    }

    /// Counts claimed attempts as in flight.
    func add(_ attempts: [ClaimedAttempt]) {
        state.withLock { state in
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
