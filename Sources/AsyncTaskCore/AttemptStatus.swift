/// The status of an attempt, as the seed gem names them. Only `pending` attempts are ever executed.
public enum AttemptStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Waiting to run (or running under a lease, or waiting out a retry backoff).
    case pending
    /// The target accepted the call (2xx).
    case succeeded
    /// A permanent failure, tries exhausted, or an operator's `fail`.
    case failed
    /// An operator's `expire`: it will not run.
    case expired

    public var description: String { rawValue }
}
