import AsyncTaskCore
import AsyncTaskTargets

/// What a try of an attempt turns into (DESIGN §3, §4), decided without I/O: succeeded; retried after the
/// target's backoff (or the target's `Retry-After`, when longer); failed (a permanent failure, or tries
/// exhausted); or the lease given back (the call was cut short by the node stopping).
///
/// The executor asks `beforeCall` first (an attempt claimed more often than it may run fails without a call),
/// then hands the call's result to `afterCall`. The jitter comes from the generator passed in, so tests draw
/// it from a seeded one.
struct OutcomeDecision: Sendable {
    /// The `max_attempts` in force: the row's, else its target's.
    let maxAttempts: Int
    /// The target's retry backoff.
    let backoff: Backoff
    /// The target's `max_retry_duration`, if any.
    var maxRetryDuration: Duration? = nil

    /// The outcome of an attempt that must not be called, or nil to call it.
    func beforeCall(_ attempt: ClaimedAttempt) -> AttemptOutcome? {
        guard attempt.attemptNumber > maxAttempts else { return nil }
        // Claimed more often than it may run: earlier tries lost their leases (crashed nodes) before recording.
        return Self.failure(
            attempt, .failed, kind: .triesExhausted,
            message: "claimed \(attempt.attemptNumber) times, more than max_attempts \(maxAttempts), without a recorded outcome")
    }

    /// What the call's result `outcome` turns `attempt` into.
    func afterCall(_ outcome: CallOutcome, of attempt: ClaimedAttempt, using generator: inout some RandomNumberGenerator) -> AttemptOutcome {
        var decided = decide(outcome, of: attempt, using: &generator)
        switch outcome {
        case .succeeded: decided.targetHealth = .answered
        case .retryable(let kind, _, _, _, _) where kind == .cancelled || kind == .shutdown: break
        case .retryable: decided.targetHealth = .failing
        case .permanent(_, _, let status, _): decided.targetHealth = status == nil ? nil : .answered
        }
        return decided
    }

    private func decide(_ outcome: CallOutcome, of attempt: ClaimedAttempt, using generator: inout some RandomNumberGenerator) -> AttemptOutcome {
        switch outcome {
        case .succeeded(let status, _):
            return AttemptOutcome(attempt: attempt, disposition: .succeeded, error: nil, errorKind: nil, httpStatus: status)
        case .retryable(let kind, _, _, _, _) where kind == .cancelled || kind == .shutdown:
            return Self.release(attempt)
        case .retryable(let kind, let message, let status, let retryAfter, let excerpt):
            guard attempt.attemptNumber < maxAttempts else {
                return Self.failure(
                    attempt, .failed, kind: kind, message: "tries exhausted (\(maxAttempts)): \(message)", status: status,
                    excerpt: excerpt)
            }
            if let maxRetryDuration, attempt.triedFor >= maxRetryDuration {
                return Self.failure(
                    attempt, .failed, kind: kind,
                    message:
                        "max_retry_duration \(DurationParser.format(maxRetryDuration)) passed (first try \(DurationParser.format(attempt.triedFor)) before this one, try \(attempt.attemptNumber) of \(maxAttempts)): \(message)",
                    status: status, excerpt: excerpt)
            }
            let delay = max(backoff.delay(afterAttempt: attempt.attemptNumber, using: &generator), retryAfter ?? .zero)
            return Self.failure(attempt, .retry(after: delay), kind: kind, message: message, status: status, excerpt: excerpt)
        case .permanent(let kind, let message, let status, let excerpt):
            return Self.failure(attempt, .failed, kind: kind, message: message, status: status, excerpt: excerpt)
        }
    }

    /// `afterCall` with the system's random generator.
    func afterCall(_ outcome: CallOutcome, of attempt: ClaimedAttempt) -> AttemptOutcome {
        var generator = SystemRandomNumberGenerator()
        return afterCall(outcome, of: attempt, using: &generator)
    }

    /// The lease given back, the attempt runnable again at once (not run to an outcome).
    static func release(_ attempt: ClaimedAttempt) -> AttemptOutcome {
        AttemptOutcome(attempt: attempt, disposition: .release, error: nil, errorKind: nil, httpStatus: nil)
    }

    /// A failed try: the error is recorded as `kind: message`.
    static func failure(
        _ attempt: ClaimedAttempt, _ disposition: AttemptOutcome.Disposition, kind: AttemptErrorKind, message: String, status: Int? = nil,
        excerpt: String = ""
    ) -> AttemptOutcome {
        AttemptOutcome(
            attempt: attempt, disposition: disposition, error: "\(kind): \(message)", errorKind: kind, httpStatus: status, excerpt: excerpt)
    }
}
