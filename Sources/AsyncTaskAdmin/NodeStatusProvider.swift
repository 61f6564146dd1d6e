public import Foundation

/// What the admin server needs to know about the node it runs in, without depending on the worker module.
///
/// The worker node conforms to it in the `asynctask` executable; readiness turns false as soon as
/// `isDraining` does.
public protocol NodeStatusProvider: Sendable {
    /// The node's id (its `locked_by` in leases).
    var id: UUID { get }
    /// True once the node has begun draining: it claims no more work, so it is not ready.
    var isDraining: Bool { get }
    /// Calls in flight on this node now.
    var inFlight: Int { get }
    /// The targets the node serves, by name (shown while the database is unreachable).
    var targets: [String] { get }
    /// Outcomes recorded in memory and not yet written to the database (they pile up during an outage).
    var bufferedOutcomes: Int? { get }
    /// Since when the node's own statements (its heartbeats) have failed to reach the database; nil while they
    /// go through. The outage page's "since" is the earlier of this and the admin server's first failed request,
    /// so a page opened late still says when the outage began.
    var databaseUnreachableSince: Date? { get }
    /// When the node's own statements last reached the database.
    var databaseLastReached: Date? { get }
}

extension NodeStatusProvider {
    /// The targets the node serves, by name (shown while the database is unreachable); none by default.
    public var targets: [String] { [] }
    /// Outcomes recorded in memory and not yet written to the database; nil when the provider cannot tell.
    public var bufferedOutcomes: Int? { nil }
    /// Unknown by default: the admin server's own view applies.
    public var databaseUnreachableSince: Date? { nil }
    /// Unknown by default: the admin server's own view applies.
    public var databaseLastReached: Date? { nil }
}
