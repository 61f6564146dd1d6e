import Synchronization

/// The leases this node knows it holds: from the claim that returned them until their outcome is written (or
/// refused by the fence, or dropped). Only these are renewed by the heartbeat.
///
/// A lease the node does not know about (a claim whose COMMIT succeeded but whose answer was lost with the
/// connection) or no longer works on (an outcome batch the database refused) must lapse, so another claim runs
/// the attempt; renewing every row with this node's `locked_by` would keep such an attempt leased, and never
/// run, for as long as the node lives.
final class HeldLeases: Sendable {
    /// One lease: the attempt and its fencing token (the attempt number of the claim).
    struct Lease: Hashable, Sendable {
        let id: Int64
        let attemptNumber: Int
    }

    private let leases = Mutex(Set<Lease>())

    /// Adds the leases a claim returned.
    func insert(_ attempts: [ClaimedAttempt]) {
        guard !attempts.isEmpty else { return }
        leases.withLock { leases in
            for attempt in attempts { leases.insert(Lease(id: attempt.id, attemptNumber: attempt.attemptNumber)) }
        }
    }

    /// Forgets the leases of outcomes that were written, fenced out or dropped.
    func remove(_ attempts: [ClaimedAttempt]) {
        guard !attempts.isEmpty else { return }
        leases.withLock { leases in
            for attempt in attempts { leases.remove(Lease(id: attempt.id, attemptNumber: attempt.attemptNumber)) }
        }
    }

    /// The leases held now, for the renewal statement.
    var snapshot: [Lease] {
        leases.withLock { Array($0) }
    }
}
