/// Which held leases the heartbeat extends, and by how much (the rule; the PostgreSQL driver passes its two
/// durations to `renew_leases`, an in-memory driver applies `isDue` itself).
///
/// Every heartbeat offers all the leases the node holds (`HeldLeases`); of those only the ones that would lapse
/// within half a lease are extended, to a full lease from now. With the heartbeat shorter than half a lease, a
/// lease is renewed at least once before it could lapse, and most heartbeats write no row at all.
struct LeaseRenewal: Sendable, Equatable {
    /// `node.lease`: how long a claim or a renewal holds an attempt.
    let lease: Duration

    /// Leases lapsing sooner than this from now are renewed: half a lease.
    var window: Duration { lease / 2 }

    /// Whether a lease that lapses at `lapsesAt` is renewed by a heartbeat at `now`.
    func isDue(lapsesAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        lapsesAt < now + window
    }

    /// When a lease renewed at `now` lapses.
    func renewed(at now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        now + lease
    }
}
