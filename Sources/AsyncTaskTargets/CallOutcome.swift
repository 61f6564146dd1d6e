public import AsyncTaskCore

/// The outcome of one call to a target, as the node records it.
public enum CallOutcome: Sendable, Hashable {
    /// The target accepted the call (2xx, and a JSON-RPC `result`).
    case succeeded(status: Int, excerpt: String)
    /// The call failed in a way that may pass later; `retryAfter` is the server's `Retry-After`.
    case retryable(kind: AttemptErrorKind, message: String, httpStatus: Int?, retryAfter: Duration?, excerpt: String)
    /// The call failed in a way that retrying will not fix.
    case permanent(kind: AttemptErrorKind, message: String, httpStatus: Int?, excerpt: String)

    /// Whether the call succeeded.
    public var isSuccess: Bool {
        if case .succeeded = self { return true }
        return false
    }

    /// The error kind, or `nil` on success.
    public var kind: AttemptErrorKind? {
        switch self {
        case .succeeded: nil
        case .retryable(let kind, _, _, _, _), .permanent(let kind, _, _, _): kind
        }
    }

    /// The short human message, or `nil` on success.
    public var message: String? {
        switch self {
        case .succeeded: nil
        case .retryable(_, let message, _, _, _), .permanent(_, let message, _, _): message
        }
    }

    /// The HTTP status, when a response arrived.
    public var httpStatus: Int? {
        switch self {
        case .succeeded(let status, _): status
        case .retryable(_, _, let status, _, _), .permanent(_, _, let status, _): status
        }
    }

    /// The bounded, valid UTF-8 excerpt of the response body ("" when there was none).
    public var excerpt: String {
        switch self {
        case .succeeded(_, let excerpt), .retryable(_, _, _, _, let excerpt), .permanent(_, _, _, let excerpt): excerpt
        }
    }
}
