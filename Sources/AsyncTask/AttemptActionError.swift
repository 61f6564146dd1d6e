public import AsyncTaskCore

/// Why an operator action did not apply.
public enum AttemptActionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No attempt has this id.
    case notFound(id: Int64)
    /// The attempt's status does not allow the action (e.g. expiring a succeeded attempt).
    case invalidState(id: Int64, action: AttemptAction, status: AttemptStatus)

    public var description: String {
        switch self {
        case .notFound(let id):
            "attempt \(id) not found"
        case .invalidState(let id, let action, let status):
            "cannot \(action) attempt \(id): it is \(status) (\(action) applies to \(action.appliesToText) attempts)"
        }
    }
}
