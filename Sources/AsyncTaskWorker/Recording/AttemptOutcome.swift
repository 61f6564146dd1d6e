import AsyncTaskCore
import Foundation

/// What happened to one try of an attempt, ready to be recorded under its lease.
struct AttemptOutcome: Sendable {
    /// Where the attempt goes next.
    enum Disposition: Sendable, Equatable {
        /// The target accepted it.
        case succeeded
        /// A retryable failure with tries left: pending again after `delay`.
        case retry(after: Duration)
        /// A permanent failure, or tries exhausted.
        case failed
        /// Not run to an outcome (the node is stopping): give the lease back, runnable now.
        case release
    }

    let attempt: ClaimedAttempt
    let disposition: Disposition
    /// `kind: message` of the failure; nil on success and release.
    let error: String?
    /// What kind of failure it was; nil on success and release.
    let errorKind: AttemptErrorKind?
    let httpStatus: Int?
    /// A bounded excerpt of the target's response to a failed call.
    var excerpt: String? = nil
    /// When the try began, for the attempt's try history (`tries`); set by the executor.
    var startedAt: Date? = nil
    /// How long the try took, from claim hand-over to outcome.
    var duration: Duration? = nil
    /// The `max_attempts` in force for this try: the row's, else its target's.
    var maxAttempts: Int? = nil
    /// A failure of a keyed attempt whose target says `ordering.on_failure: block`: the failed row holds its
    /// key (`key_blocked`) until an operator retries it or unblocks the key.
    var blocksKey = false
    /// What the call said about the target's health (nil: no call was made, or one cut short by the node).
    var targetHealth: TargetHealth? = nil
}

extension AttemptOutcome.Disposition {
    /// Whether the attempt leaves `pending` (succeeded or failed): its ordering key passes on.
    var isFinal: Bool {
        switch self {
        case .succeeded, .failed: true
        case .retry, .release: false
        }
    }

    /// The row's next `status`, and for a pending one how long until it is due again (`available_at` = now +
    /// the delay): a retry after its backoff, a released lease at once; nil for the terminal statuses.
    var stored: (status: AttemptStatus, delayMilliseconds: Int64?) {
        switch self {
        case .succeeded: (.succeeded, nil)
        case .failed: (.failed, nil)
        case .retry(let delay): (.pending, delay.milliseconds)
        case .release: (.pending, 0)
        }
    }
}
