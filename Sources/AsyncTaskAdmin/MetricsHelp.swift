/// The `# HELP` text of every `asynctask_*` metric on `/metrics`.
///
/// The node's metrics come through swift-metrics, whose API has no help text, and the Prometheus registry
/// refuses a second registration of a name with different help; so the text lives here and is inserted above
/// each family's `# TYPE` line when `/metrics` is rendered. A test checks a real node's output with
/// `promtool check metrics`, so a new metric without an entry here fails it.
enum MetricsHelp {
    /// Help text by metric family name.
    static let text: [String: String] = [
        "asynctask_attempts_claimed_total": "Attempts this node claimed (each claim is one try).",
        "asynctask_attempts_handed_over_total":
            "Attempts leased to this node by its own outcome flush: the next of an ordering key it passed on (also counted as claimed).",
        "asynctask_attempts_succeeded_total": "Tries of attempts that succeeded on this node.",
        "asynctask_attempts_failed_total": "Attempts that failed for good on this node (permanent error or tries exhausted).",
        "asynctask_attempts_retried_total": "Tries that failed retryably on this node; the attempt waits for its backoff.",
        "asynctask_attempts_released_total":
            "Claimed attempts this node gave back without a try: claimed ahead when it began draining or when their target was paused, handed over as it began draining, or a call cancelled at shutdown.",
        "asynctask_fenced_rejects_total": "Outcomes refused by the lease fence: the attempt was re-claimed or changed meanwhile.",
        "asynctask_in_flight": "Calls to targets in flight on this node now.",
        "asynctask_claim_batch_size": "Attempts claimed per claim statement.",
        "asynctask_claim_duration_seconds": "Time of each claim statement, sent to answered.",
        "asynctask_call_duration_seconds": "Duration of calls to a target, from request to response or error.",
        "asynctask_queue_pending": "Pending attempts per target (due, scheduled, retrying or leased), cluster-wide.",
        "asynctask_queue_due": "Pending attempts per target that are due now and not leased, cluster-wide.",
        "asynctask_queue_running": "Attempts per target leased by a node now, cluster-wide.",
        "asynctask_queue_lag_seconds": "Age of the oldest due attempt per target: how far the cluster is behind.",
        "asynctask_queue_waiting_for_key": "Pending attempts per target parked behind an earlier attempt of their ordering key, cluster-wide.",
        "asynctask_queue_key_wait_seconds":
            "Per target, how long the longest-parked attempt has waited for its ordering key since it was enqueued.",
        "asynctask_keys_blocked": "Ordering keys per target held by a failed head (ordering.on_failure: block) until an operator acts.",
        "asynctask_target_rate_per_second": "Attempts of the target finished per second cluster-wide over the last five minutes (observed rate).",
        "asynctask_nodes_live": "Worker nodes with a fresh heartbeat.",
        "asynctask_target_paused": "1 while an operator has the target paused cluster-wide (asynctask targets pause), else 0.",
        "asynctask_claims_throttled_total":
            "Claims for a target that its cluster-wide rate, global_concurrency, key_concurrency or circuit cut short, on this node.",
        "asynctask_circuit_open": "1 while the target's circuit is open or half-open cluster-wide (as this node last read it), else 0.",
        "asynctask_circuit_transitions_total": "Circuit transitions of a target made by this node's outcome flushes (to: opened or closed).",
    ]

    /// `exposition` with a `# HELP` line before each `# TYPE` line of a family that has none and has text here.
    static func annotate(_ exposition: String) -> String {
        var out = ""
        out.reserveCapacity(exposition.utf8.count + 2048)
        var helped = Set<Substring>()
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# HELP ") {
                helped.insert(line.dropFirst(7).prefix { $0 != " " })
            } else if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).prefix { $0 != " " }
                if !helped.contains(name), let help = text[String(name)] {
                    out += "# HELP \(name) \(help)\n"
                    helped.insert(name)
                }
            }
            out += line
            out += "\n"
        }
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
