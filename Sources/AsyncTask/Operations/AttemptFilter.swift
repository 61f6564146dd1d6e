public import AsyncTaskCore
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
    /// Only pending attempts in this phase (scheduled, retrying, running, waiting).
    public var phase: Phase?
    /// Also match deliveries of internal targets (`@webhook`), which operators' views leave out by default so
    /// that event deliveries are not mistaken for user attempts. Naming an internal target in `target`
    /// includes it without this flag.
    public var includeInternal: Bool

    /// Where a pending attempt stands, for the operator views of scheduled, retrying and running work.
    public enum Phase: String, Sendable, Hashable, CaseIterable {
        /// Never tried, and not runnable before its `available_at` (delayed by `scheduled_at`).
        case scheduled
        /// Tried before and waiting for its next try (backing off, or due again).
        case retrying
        /// Under a live lease: a node is calling its target now.
        case running
        /// Parked behind an earlier attempt of its ordering key (`available_at` = infinity): it becomes due when
        /// that attempt's outcome passes the key on.
        case waiting
    }

    /// Creates a filter; every criterion is optional.
    public init(
        statuses: [AttemptStatus]? = nil, target: String? = nil, method: String? = nil, since: Date? = nil, beforeID: Int64? = nil,
        phase: Phase? = nil, includeInternal: Bool = false
    ) {
        self.statuses = statuses
        self.target = target
        self.method = method
        self.since = since
        self.beforeID = beforeID
        self.phase = phase
        self.includeInternal = includeInternal
    }

    /// True when no criterion is set (the filter matches every user attempt; `includeInternal` is not a
    /// criterion but a scope).
    public var isEmpty: Bool {
        (statuses ?? []).isEmpty && target == nil && method == nil && since == nil && beforeID == nil && phase == nil
    }

    /// True when internal targets' rows match: asked for, or an internal target named.
    public var matchesInternal: Bool {
        includeInternal || (target?.hasPrefix(Schema.internalTargetPrefix) ?? false)
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
