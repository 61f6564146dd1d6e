import Synchronization

@testable import AsyncTaskWorker

/// A `WorkerClock` that moves only when a test calls `advance(by:)`: sleepers whose deadline has come are woken
/// then, and a cancelled sleeper throws `CancellationError` at once (as `Task.sleep` does).
final class ManualClock: WorkerClock {
    private struct Sleeper {
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: ContinuousClock.Instant
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(start: ContinuousClock.Instant = .now) {
        state = Mutex(State(now: start))
    }

    var now: ContinuousClock.Instant { state.withLock { $0.now } }

    /// Tasks sleeping on this clock now.
    var sleepers: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and wakes the sleepers whose deadline has come.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now += duration
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Moves time forward in steps of `step` (letting the node's tasks run between them) until `condition`
    /// holds, at most `limit` in all. Steps, not one jump, so a loop that re-arms its sleep after each wake-up
    /// sees every deadline. Returns whether the condition held.
    func advance(step: Duration = .milliseconds(250), upTo limit: Duration, until condition: () -> Bool) async -> Bool {
        var moved = Duration.zero
        while moved < limit {
            if condition() { return true }
            advance(by: step)
            moved += step
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }
}

/// Waits (in real time, at most `limit`) until `condition` holds; the node's tasks run meanwhile. Returns whether
/// it held, so a test can `#expect` it.
func eventually(within limit: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}
