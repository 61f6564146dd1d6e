/// Whether this node may reap other nodes now, from the history of its own heartbeats (pure: every event passes
/// its own time).
///
/// Reaping judges other nodes by their `heartbeat_at`, which only says something while the database took
/// heartbeats: right after an outage every node's is stale, and the first node back would declare the others
/// dead and release the leases of calls they are still making (each then runs twice). So a node reaps only once
/// its own heartbeats have gone through for `dead_after` without a failure, time enough for every live node to
/// beat again.
struct ReapingGate: Sendable {
    /// What a heartbeat that went through leads to.
    struct Action: Sendable, Equatable {
        /// Reap silent nodes now.
        var reap: Bool
        /// Set on the first heartbeat through after failures: how long the database was unreachable (log it once).
        var reachableAgainAfter: Duration?
    }

    /// `node.dead_after`.
    let deadAfter: Duration
    /// Since when every heartbeat went through; nil after a failure until the next success.
    private var reachableSince: ContinuousClock.Instant?
    /// The first failed heartbeat of the current run of failures.
    private var failingSince: ContinuousClock.Instant?

    /// A gate for a node that started at `startedAt` (registration went through then, so the clock runs from it).
    init(deadAfter: Duration, startedAt: ContinuousClock.Instant) {
        self.deadAfter = deadAfter
        self.reachableSince = startedAt
    }

    /// A heartbeat (and its lease renewal) went through at `now`.
    mutating func heartbeatSucceeded(at now: ContinuousClock.Instant) -> Action {
        let since = reachableSince ?? now
        reachableSince = since
        var unreachable: Duration?
        if let failed = failingSince {
            failingSince = nil
            unreachable = now - failed
        }
        return Action(reap: now - since >= deadAfter, reachableAgainAfter: unreachable)
    }

    /// A heartbeat failed at `now`: no reaping until heartbeats have gone through for `deadAfter` again.
    mutating func heartbeatFailed(at now: ContinuousClock.Instant) {
        reachableSince = nil
        if failingSince == nil { failingSince = now }
    }
}
