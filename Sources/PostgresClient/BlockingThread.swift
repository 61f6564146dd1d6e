import Foundation
import Synchronization

/// A dedicated OS thread that runs blocking jobs one at a time, in submission order.
///
/// libpq's calls block the calling thread for a network round trip. Running them on Swift's cooperative pool would
/// starve every other task of that pool (it has one thread per core), so each connection owns one of these threads
/// and awaits its jobs through continuations instead.
final class BlockingThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled when a job is queued or the thread is asked to stop; used together with `state`'s lock only
    /// through `wait()`/`signal()`, so the Mutex stays the single source of truth.
    private let wakeup = DispatchSemaphore(value: 0)

    /// Starts the thread.
    /// - Parameter name: the OS thread name, visible in `top -H` and debuggers.
    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `job` on the thread and returns its result.
    func run<T: Sendable, E: Error>(_ job: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.jobs.append {
                    do throws(E) {
                        continuation.resume(returning: .success(try job()))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
                return true
            }
            if accepted {
                wakeup.signal()
            } else {
                // The thread is gone; run inline rather than hang the caller. Only `close()` paths reach this.
                do throws(E) {
                    continuation.resume(returning: .success(try job()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Queues `job` without waiting for it (runs it inline when the thread has stopped).
    func submit(_ job: @escaping @Sendable () -> Void) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { wakeup.signal() } else { job() }
    }

    /// Lets the thread finish the jobs already queued, then exit.
    func stop() {
        state.withLock { $0.stopping = true }
        wakeup.signal()
    }

    private func loop() {
        while true {
            wakeup.wait()
            let (jobs, stopping) = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.stopping)
            }
            for job in jobs { job() }
            if stopping && jobs.isEmpty { return }
            if stopping {
                // Drain anything queued between the swap and now, then exit.
                let rest = state.withLock { state in
                    defer { state.jobs.removeAll() }
                    return state.jobs
                }
                for job in rest { job() }
                return
            }
        }
    }
}
