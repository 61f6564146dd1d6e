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

        /// The status the attempt is left in: `pending` again for a retry or a release.
        var status: AttemptStatus {
            switch self {
            case .succeeded: .succeeded
            case .failed: .failed
            case .retry, .release: .pending
            }
        }
    }

    let attempt: ClaimedAttempt
    let disposition: Disposition
    /// `kind: message` of the failure; nil on success and release.
    let error: String?
    /// Why the try failed; nil on success and release.
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
}
