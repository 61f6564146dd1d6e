import CCurl
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The part of an engine shared between callers and the engine thread: a lock around the
/// hand-over queue, the lifecycle and the published counters.
final class EngineCore: Sendable {
    /// How the engine thread is asked to stop.
    enum StopRequest: Sendable, Equatable {
        /// Fail everything in flight now.
        case immediate
        /// Refuse new requests; let in-flight ones run until they end or `deadline` passes.
        case drain(deadline: ContinuousClock.Instant)
    }

    /// Where the engine is in its life.
    enum Lifecycle: Sendable, Equatable {
        /// `run()` has not been called: requests queue up until it is.
        case idle
        /// The engine thread runs and accepts requests.
        case running
        /// A stop was requested: new requests are refused; the thread finishes its work.
        case stopping
        /// The engine thread has ended; every request is refused.
        case stopped
    }

    /// A request handed to the engine thread.
    struct Submission: Sendable {
        let id: UInt64
        let prepared: PreparedRequest
        /// Submission + the request's timeout.
        let deadline: ContinuousClock.Instant
        let continuation: ResponseContinuation
    }

    /// What the engine thread takes from the shared state on each turn of its loop.
    struct Work {
        var submissions: [Submission]
        var cancellations: [UInt64]
        var stop: StopRequest?
    }

    /// Counters the engine thread accumulates between two publications.
    struct CounterDelta {
        var responses = 0
        var failures = 0
        var connectionsOpened = 0
        var connectionsReused = 0
        /// Requests in the engine thread's queue now (a level, not a count of events).
        var queued = 0
        var isEmpty: Bool { responses == 0 && failures == 0 }
    }

    /// The multi handle's address, kept in the shared state for `curl_multi_wakeup` only.
    // @unchecked: the pointer is used off the engine thread only for curl_multi_wakeup, which
    // libcurl documents as callable from any thread, and only under the state lock while the
    // engine thread keeps the handle alive (it removes it under the same lock before cleanup).
    struct WakeupHandle: @unchecked Sendable {
        let multi: UnsafeMutableRawPointer

        func wake() {
            curl_multi_wakeup(multi)
        }
    }

    struct State {
        var lifecycle = Lifecycle.idle
        var submissions: [Submission] = []
        var cancellations: [UInt64] = []
        var stop: StopRequest?
        /// Whether the engine thread has seen `stop` in its current form.
        var stopSeen = false
        /// The multi handle, for `curl_multi_wakeup` only, while the engine thread runs.
        var wakeupHandle: WakeupHandle?
        /// Whether the engine thread is (about to be) blocked in `curl_multi_poll`.
        var threadIsPolling = false
        var threadExited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
        var statistics = HTTPEngine.Statistics()
        #if os(Linux)
            var thread: pthread_t?
        #endif
    }

    let configuration: HTTPEngine.Configuration
    let logger: Logger
    let state = Mutex(State())
    let nextID = Atomic<UInt64>(1)

    init(configuration: HTTPEngine.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Callers

    /// A new request id, unique within this engine.
    func makeID() -> UInt64 {
        nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Queues a request for the engine thread, or resumes the caller at once when it cannot run.
    func submit(_ submission: Submission) {
        let refusal: HTTPClientError? = state.withLock { state in
            // Checked under the lock: a cancellation that lands after this sees the request queued.
            if Task.isCancelled {
                return HTTPClientError(code: .cancelled, detail: "the task was cancelled before the request started")
            }
            guard state.stop == nil, state.lifecycle == .idle || state.lifecycle == .running else {
                return HTTPClientError(code: .shutdown, detail: "the HTTP engine is shutting down")
            }
            state.submissions.append(submission)
            state.statistics.inFlight += 1
            Self.wakeThreadIfPolling(&state)
            return nil
        }
        if let refusal {
            submission.continuation.resume(returning: .failure(refusal))
        }
    }

    /// Aborts request `id`: removed from the queue here, or from libcurl by the engine thread.
    func cancel(_ id: UInt64) {
        let queued: Submission? = state.withLock { state in
            if let index = state.submissions.firstIndex(where: { $0.id == id }) {
                state.statistics.inFlight -= 1
                state.statistics.failures += 1
                return state.submissions.remove(at: index)
            }
            state.cancellations.append(id)
            Self.wakeThreadIfPolling(&state)
            return nil
        }
        queued?.continuation.resume(returning: .failure(HTTPClientError(code: .cancelled, detail: "the task was cancelled")))
    }

    /// Asks the engine to stop; `graceful` follows the configured ``HTTPEngine/ShutdownBehavior``.
    func requestStop(graceful: Bool) {
        let refused: [Submission] = state.withLock { state in
            if graceful {
                guard state.stop == nil else { return [] }
                switch configuration.shutdownBehavior {
                case .failInFlight:
                    state.stop = .immediate
                case .finishInFlight(let grace):
                    state.stop = .drain(deadline: .now + grace)
                }
            } else {
                guard state.stop != .immediate else { return [] }
                state.stop = .immediate
            }
            state.stopSeen = false
            switch state.lifecycle {
            case .idle:
                // No thread will ever take the queue: fail it here.
                state.lifecycle = .stopped
                state.threadExited = true
                let queued = state.submissions
                state.submissions = []
                state.statistics.inFlight -= queued.count
                state.statistics.failures += queued.count
                return queued
            case .running:
                state.lifecycle = .stopping
            case .stopping, .stopped:
                break
            }
            if let handle = state.wakeupHandle {
                handle.wake()
                state.threadIsPolling = false
            }
            return []
        }
        for submission in refused {
            submission.continuation.resume(returning: .failure(HTTPClientError(code: .shutdown, detail: "the HTTP engine stopped before it ran")))
        }
    }

    /// Suspends until the engine thread has ended (or at once if it never will start).
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = state.withLock { state in
                if state.threadExited { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if exited { continuation.resume() }
        }
    }

    /// The counters, with the engine thread's CPU time when it runs.
    var statistics: HTTPEngine.Statistics {
        state.withLock { state in
            var statistics = state.statistics
            #if os(Linux)
                // The thread clears `thread` under this lock before it exits, so the id is live here.
                if let thread = state.thread {
                    var clock = clockid_t()
                    var time = timespec()
                    if pthread_getcpuclockid(thread, &clock) == 0, clock_gettime(clock, &time) == 0 {
                        statistics.engineThreadCPUTime = .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
                    }
                }
            #endif
            return statistics
        }
    }

    /// Decides whether `run()` may start the engine thread.
    func beginRun() -> Lifecycle {
        state.withLock { state in
            let before = state.lifecycle
            if before == .idle { state.lifecycle = .running }
            return before
        }
    }

    private static func wakeThreadIfPolling(_ state: inout State) {
        // curl_multi_wakeup is the one multi call that is safe from any thread. A thread that is
        // not polling checks the queue before it polls again, so it needs no wake-up.
        if state.threadIsPolling, let handle = state.wakeupHandle {
            handle.wake()
            state.threadIsPolling = false
        }
    }

    // MARK: Engine thread

    /// Registers the running engine thread and its multi handle.
    func attachThread(multi: UnsafeMutableRawPointer) {
        state.withLock { state in
            state.wakeupHandle = WakeupHandle(multi: multi)
            #if os(Linux)
                state.thread = pthread_self()
            #endif
        }
    }

    /// Takes the queued requests and cancellations and the current stop request.
    func takeWork() -> Work {
        state.withLock { state in
            state.threadIsPolling = false
            state.stopSeen = true
            let work = Work(submissions: state.submissions, cancellations: state.cancellations, stop: state.stop)
            state.submissions = []
            state.cancellations = []
            return work
        }
    }

    /// Publishes counters; tells whether the thread may block in `curl_multi_poll` (nothing is waiting).
    func preparePoll(publishing delta: inout CounterDelta) -> Bool {
        state.withLock { state in
            Self.apply(&delta, to: &state.statistics)
            let mayPoll = state.submissions.isEmpty && state.cancellations.isEmpty && state.stopSeen
            state.threadIsPolling = mayPoll
            return mayPoll
        }
    }

    /// Publishes counters.
    func publish(_ delta: inout CounterDelta) {
        state.withLock { state in Self.apply(&delta, to: &state.statistics) }
    }

    /// Unregisters the engine thread; returns requests queued too late, for the thread to fail.
    func detachThread(publishing delta: inout CounterDelta) -> [Submission] {
        state.withLock { state in
            Self.apply(&delta, to: &state.statistics)
            state.lifecycle = .stopped
            state.wakeupHandle = nil
            state.threadIsPolling = false
            #if os(Linux)
                state.thread = nil
            #endif
            let queued = state.submissions
            state.submissions = []
            state.cancellations = []
            state.statistics.inFlight -= queued.count
            state.statistics.failures += queued.count
            return queued
        }
    }

    /// Marks the thread as ended (after its multi handle was cleaned up) and wakes `run()`.
    func signalExit() {
        let waiters = state.withLock { state in
            state.threadExited = true
            let waiters = state.exitWaiters
            state.exitWaiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private static func apply(_ delta: inout CounterDelta, to statistics: inout HTTPEngine.Statistics) {
        statistics.queued = delta.queued
        guard !delta.isEmpty else { return }
        statistics.responses += delta.responses
        statistics.failures += delta.failures
        statistics.connectionsOpened += delta.connectionsOpened
        statistics.connectionsReused += delta.connectionsReused
        statistics.inFlight -= delta.responses + delta.failures
        delta = CounterDelta(queued: delta.queued)
    }
}
