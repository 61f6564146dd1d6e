/// The time the node's loops read and sleep on, injected so tests can move it by hand.
///
/// Instants are `ContinuousClock`'s, so what the node stores (the prefetch sizing's samples, the reaping gate's
/// times) needs no generic parameter; a manual clock starts at some real instant and moves only when told.
protocol WorkerClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }
    /// Sleeps until `deadline`; throws `CancellationError` when the task is cancelled first.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

extension WorkerClock {
    /// Sleeps for `duration` from now; throws `CancellationError` when the task is cancelled first.
    func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real clock: `ContinuousClock` (keeps counting while the machine sleeps, never jumps back).
struct ContinuousWorkerClock: WorkerClock {
    var now: ContinuousClock.Instant { .now }

    func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await Task.sleep(until: deadline, clock: .continuous)
    }
}

extension WorkerClock where Self == ContinuousWorkerClock {
    /// The real clock.
    static var continuous: ContinuousWorkerClock { ContinuousWorkerClock() }
}
