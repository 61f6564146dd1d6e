import AsyncTaskCore
import AsyncTaskTargets
import Logging
import Synchronization

/// Gathers the calls of batched targets (``TargetConfiguration/batch``) into requests: up to `batch.max` calls
/// of one (target, method) per request, sent when full or `batch.linger` after its first call, whichever first.
///
/// Each attempt keeps its own task, slot, lease and outcome: its task calls `call(_:to:settings:)` and gets its
/// own ``CallOutcome`` back, which the executor turns into the attempt's next state by the same rule as an
/// unbatched call. The first call of a gathering leads it: it waits out the linger (or until the gathering
/// fills), sends the request and hands every follower its outcome. So a request never waits longer than
/// `linger` for company, the target's `concurrency` (counted in attempts, since each holds a slot) bounds the
/// attempts in flight, and cancelling the leader (the node's grace ended) cancels the request for all.
final class BatchDispatcher: Sendable {
    /// Sends one batch and returns its outcomes in the order of the calls.
    typealias Send = @Sendable ([TargetCall], TargetConfiguration) async -> [CallOutcome]

    private struct Key: Hashable {
        let target: String
        let method: String
    }

    /// A request being gathered: its calls, in arrival order, and the followers waiting for their outcomes.
    private struct Gathering {
        let id: UInt64
        let full = WakeSignal()
        var calls: [TargetCall]
        /// `followers[i]` waits for the outcome of `calls[i + 1]` (the leader's call is `calls[0]`).
        var followers: [CheckedContinuation<Role, Never>] = []
    }

    /// What `call` learns when it joins: it leads a new gathering, or another's request decided its outcome.
    private enum Role {
        case leader(UInt64, WakeSignal)
        case decided(CallOutcome)
    }

    private struct State {
        var open: [Key: Gathering] = [:]
        /// Gatherings that filled before their leader woke, by id.
        var closed: [UInt64: Gathering] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let send: Send

    init(send: @escaping Send) {
        self.send = send
    }

    /// Sends batches through `caller`, logging what a reply held that matched no attempt.
    convenience init(caller: TargetCaller, logger: Logger) {
        self.init { calls, target in
            let (outcomes, reply) = await caller.call(batch: calls, to: target)
            if !reply.unknownIDs.isEmpty || !reply.duplicateIDs.isEmpty {
                logger.warning(
                    "batch reply held elements that match no attempt, or several for one",
                    metadata: [
                        "target": "\(target.name)", "method": "\(calls.first?.methodName ?? "")",
                        "unknown_ids": "\(reply.unknownIDs.prefix(10).joined(separator: ","))",
                        "duplicate_ids": "\(reply.duplicateIDs.prefix(10).map(String.init).joined(separator: ","))",
                    ])
            }
            return outcomes
        }
    }

    /// Makes `call` as part of a batched request to `target` and returns its own outcome.
    func call(_ call: TargetCall, to target: TargetConfiguration, settings: BatchSettings) async -> CallOutcome {
        let key = Key(target: target.name, method: call.methodName)
        let role = await withCheckedContinuation { (continuation: CheckedContinuation<Role, Never>) in
            let (lead, filled) = state.withLock { state -> (Role?, WakeSignal?) in
                guard var gathering = state.open.removeValue(forKey: key) else {
                    state.nextID += 1
                    let gathering = Gathering(id: state.nextID, calls: [call])
                    if settings.max > 1 { state.open[key] = gathering } else { state.closed[gathering.id] = gathering }
                    return (.leader(gathering.id, gathering.full), nil)
                }
                gathering.calls.append(call)
                gathering.followers.append(continuation)
                if gathering.calls.count >= settings.max {
                    state.closed[gathering.id] = gathering
                    return (nil, gathering.full)
                }
                state.open[key] = gathering
                return (nil, nil)
            }
            filled?.signal()
            if let lead { continuation.resume(returning: lead) }
        }
        switch role {
        case .decided(let outcome):
            return outcome
        case .leader(let id, let full):
            if settings.max > 1 {
                if settings.linger > .zero {
                    await full.wait(timeout: settings.linger)
                } else {
                    // No linger: take the calls already runnable (the rest of the same claim), nothing more.
                    await Task.yield()
                }
            }
            let gathering = state.withLock { state -> Gathering? in
                if let closed = state.closed.removeValue(forKey: id) { return closed }
                if state.open[key]?.id == id { return state.open.removeValue(forKey: key) }
                return nil
            }
            guard let gathering else {
                // Unreachable: only the leader takes its gathering out. Send the leader's call alone.
                return await send([call], target).first
                    ?? .retryable(kind: .internal, message: "batch lost", httpStatus: nil, retryAfter: nil, excerpt: "")
            }
            let outcomes = await send(gathering.calls, target)
            for (index, follower) in gathering.followers.enumerated() {
                follower.resume(returning: .decided(outcomes[index + 1]))
            }
            return outcomes[0]
        }
    }
}
