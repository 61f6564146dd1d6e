/// How often the node's periodic jobs run, each derived from `node.heartbeat` (one setting, so a node tuned for
/// faster failure detection reports faster too).
struct NodeCadences: Sendable, Equatable {
    /// `node.heartbeat`: the node's row is touched, its due leases renewed and, past the reaping gate, silent
    /// nodes reaped.
    let heartbeat: Duration

    /// The warning about attempts waiting for targets no live node serves: every 15 heartbeats (a scan of the
    /// due rows; the warning repeats often enough to be noticed without flooding the log).
    var unservedTargets: Duration { heartbeat * 15 }

    /// One page of the sweep of parked keyed attempts (`ParkedSweep`): every 5 heartbeats, so an attempt
    /// stranded by the rare race waits seconds, and a million parked rows cost a page of index reads per run.
    var parkedSweep: Duration { heartbeat * 5 }

    /// The read of operator controls (paused targets): every heartbeat, so a pause reaches every node within one.
    var targetControls: Duration { heartbeat }
}
