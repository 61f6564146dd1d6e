public import Foundation

/// Which attempts an operator means: by status, target, method, creation time and id range.
///
/// Shared by `asynctask attempts list`, the bulk actions and the admin API, so a filter selects the same rows
/// wherever it is typed. Every field is optional; an empty filter matches every attempt.
public struct AttemptFilter: Sendable, Hashable {
    /// Any of these statuses; nil or empty means any status.
    public var statuses: [AttemptStatus]?
    /// Exactly this target name.
    public var target: String?
    /// Exactly this method name.
    public var method: String?
    /// Created at or after this time.
    public var since: Date?
    /// Only ids below this one (paging backwards from the newest).
    public var beforeID: Int64?

    /// Creates a filter; every criterion is optional.
    public init(statuses: [AttemptStatus]? = nil, target: String? = nil, method: String? = nil, since: Date? = nil, beforeID: Int64? = nil) {
        self.statuses = statuses
        self.target = target
        self.method = method
        self.since = since
        self.beforeID = beforeID
    }

    /// True when no criterion is set (the filter matches every attempt).
    public var isEmpty: Bool {
        (statuses ?? []).isEmpty && target == nil && method == nil && since == nil && beforeID == nil
    }

    /// The same filter restricted to `allowed` statuses (intersected with its own, if any).
    public func restricted(to allowed: [AttemptStatus]) -> AttemptFilter {
        var copy = self
        if let statuses, !statuses.isEmpty {
            copy.statuses = statuses.filter(allowed.contains)
        } else {
            copy.statuses = allowed
        }
        return copy
    }
}
