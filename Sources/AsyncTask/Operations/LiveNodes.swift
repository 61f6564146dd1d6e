import PostgresClient

/// Which worker nodes count as live: the one rule every operator view judges by (`nodes`, `doctor`, `targets`,
/// `enqueue`'s warning, the target defaults an attempt shows, the admin server's pages and metrics).
///
/// A node is live while its status is `active` or `draining` and its heartbeat is fresher than the dead-after
/// limit (the workers' `node.dead_after`). A draining node counts: it still runs its calls, and in a rolling
/// deploy its replacement is starting, so saying "no node serves this" then would be noise.
public enum LiveNodes {
    /// The workers' default `node.dead_after`, which commands use when not told otherwise.
    public static let defaultDeadAfter: Duration = .seconds(10)

    /// The SQL condition "the row `alias` of `async_task_nodes` is live", parenthesised. `deadAfter` gives the
    /// limit in milliseconds: a bind (`"\(limit.milliseconds)"`) in a built query, or the text `"$1"` for a
    /// fixed statement's SQL (then take `.sql`).
    static func condition(_ alias: String, deadAfterMilliseconds deadAfter: PostgresQuery) -> PostgresQuery {
        """
        (\(unsafeSQL: alias).status IN ('active', 'draining') \
        AND \(unsafeSQL: alias).heartbeat_at > now() - \(deadAfter) * interval '1 millisecond')
        """
    }
}
