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
}
