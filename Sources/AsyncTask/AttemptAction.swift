public import AsyncTaskCore

/// An operator action on attempts, with the one table of which statuses allow it and what it leaves.
///
/// The seed gem's rules: `expire` and `fail` only from `pending`; `retry` from `failed` or `expired` back to
/// `pending`. The CLI, the admin API and dashboard, and the single and bulk SQL (which binds `appliesTo` and
/// `resultingStatus`) all read this table, so a rule changes in one place. The raw value is the verb operators
/// type (`asynctask attempts retry`, `POST /api/attempts/{id}/retry`).
public enum AttemptAction: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Failed or expired → pending, runnable now, with more tries.
    case retry
    /// Pending → expired: it will not run.
    case expire
    /// Pending → failed, with an optional reason as its last error.
    case fail

    /// One row of the transition table.
    public struct Transition: Sendable, Hashable {
        /// The statuses the action applies to; an attempt in another status is refused.
        public let from: [AttemptStatus]
        /// The status the action leaves the attempt in.
        public let to: AttemptStatus
    }

    /// The transition table: the only place the rule is written.
    public var transition: Transition {
        switch self {
        case .retry: Transition(from: [.failed, .expired], to: .pending)
        case .expire: Transition(from: [.pending], to: .expired)
        case .fail: Transition(from: [.pending], to: .failed)
        }
    }

    /// The statuses the action applies to.
    public var appliesTo: [AttemptStatus] { transition.from }

    /// The status the action leaves the attempt in.
    public var resultingStatus: AttemptStatus { transition.to }

    /// True when an attempt in `status` can take this action.
    public func applies(to status: AttemptStatus) -> Bool { appliesTo.contains(status) }

    /// The actions an attempt in `status` can take, in declaration order (what the dashboard offers).
    public static func available(from status: AttemptStatus) -> [AttemptAction] {
        allCases.filter { $0.applies(to: status) }
    }

    /// The statuses it applies to as operators read them: "pending", "failed or expired".
    public var appliesToText: String { appliesTo.map(\.rawValue).joined(separator: " or ") }

    /// The verb, for messages ("expire", "fail", "retry").
    public var verb: String { rawValue }

    public var description: String { rawValue }
}
