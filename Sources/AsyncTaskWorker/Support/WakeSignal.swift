import Synchronization

/// A wake-up flag: `signal()` from anywhere wakes every task waiting in `wait(timeout:)` and `signalOne()` the
/// longest waiting one (or, when none waits, either makes the next `wait` return at once); `wait` also returns
/// at its timeout or on cancellation. Signals while nobody waits collapse into one.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let clock: any WorkerClock

    /// A signal whose `wait` times out on `clock`.
    init(clock: any WorkerClock = .continuous) {
        self.clock = clock
    }

    /// Wakes the waiters, or makes the next `wait` return at once.
    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Wakes one waiter (the longest waiting), or makes the next `wait` return at once: for news that one
    /// waiter can act on alone, such as a NOTIFY that new work is due, which every claim loop would otherwise
    /// claim for at once, most of them finding nothing.
    func signalOne() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let first = state.waiters.keys.min() else {
                state.pending = true
                return nil
            }
            return state.waiters.removeValue(forKey: first)
        }
        waiter?.resume()
    }

    /// Waits for a signal, at most `timeout`.
    func wait(timeout: Duration) async {
        let id = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                try? await self.clock.sleep(for: timeout)
                self.resume(id)
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let alreadySignalled = state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        state.waiters[id] = continuation
                        return false
                    }
                    if alreadySignalled { continuation.resume() }
                }
            } onCancel: {
                self.resume(id)
            }
            group.cancelAll()
        }
    }

    private func resume(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}
