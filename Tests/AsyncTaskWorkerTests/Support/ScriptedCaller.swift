import AsyncTaskTargets
import Synchronization

@testable import AsyncTaskWorker

/// A `TargetCalling` that answers each call by a script instead of the network, and records the calls made.
final class ScriptedCaller: TargetCalling {
    private let script: @Sendable (TargetCall, TargetConfiguration) async -> CallOutcome
    private let made = Mutex<[(target: String, attemptID: Int64, attemptNumber: Int)]>([])
    private let running = Atomic<Int>(0)
    /// Calls under way per target now, and the most seen at once.
    private let perTarget = Mutex<(now: [String: Int], peak: [String: Int])>(([:], [:]))

    /// - Parameter script: the outcome of each call (it may wait, to hold a call in flight).
    init(_ script: @escaping @Sendable (TargetCall, TargetConfiguration) async -> CallOutcome) {
        self.script = script
    }

    /// A caller whose every call succeeds with 200.
    static var succeeding: ScriptedCaller { ScriptedCaller { _, _ in .succeeded(status: 200, excerpt: "") } }

    func call(_ call: TargetCall, to target: TargetConfiguration) async -> CallOutcome {
        made.withLock { $0.append((target.name, call.attemptID, call.attemptNumber)) }
        running.add(1, ordering: .relaxed)
        perTarget.withLock { state in
            state.now[target.name, default: 0] += 1
            state.peak[target.name] = max(state.peak[target.name] ?? 0, state.now[target.name] ?? 0)
        }
        defer {
            running.subtract(1, ordering: .relaxed)
            perTarget.withLock { $0.now[target.name, default: 1] -= 1 }
        }
        return await script(call, target)
    }

    /// The calls made so far, in order.
    var calls: [(target: String, attemptID: Int64, attemptNumber: Int)] { made.withLock { $0 } }

    /// The most calls of `target` under way at once so far.
    func peakInFlight(target: String) -> Int { perTarget.withLock { $0.peak[target] ?? 0 } }

    /// Calls under way now.
    var inFlight: Int { running.load(ordering: .relaxed) }
}
