import AsyncTaskCore
public import PostgresClient

/// The target names that live nodes serve now, from `async_task_nodes` (live by `LiveNodes`' rule, as `nodes`
/// and `doctor` judge it; the `targets` column), for warnings about attempts no node will run.
public struct ServedTargets: Sendable {
    /// What live nodes serve.
    public struct Snapshot: Sendable, Hashable {
        /// How many nodes are live.
        public var liveNodes: Int
        /// The targets they serve, sorted.
        public var targets: [String]
        /// The dead-after limit the snapshot was taken with (named in the warning).
        public var deadAfter: Duration = LiveNodes.defaultDeadAfter

        /// A warning for an attempt of `target`, or nil when a live node serves it: names the nearest served
        /// target when the name looks mistyped or miscased, or says that no node is live at all.
        public func warning(forTarget target: String) -> String? {
            guard !targets.contains(target) else { return nil }
            guard liveNodes > 0 else {
                return
                    "no worker node is live (none active or draining with a heartbeat in the last \(DurationParser.format(deadAfter))): attempt for \(target) waits until one that serves it starts"
            }
            var text =
                "no live node serves target \(target) (live nodes serve \(targets.isEmpty ? "nothing" : targets.joined(separator: ", "))): the attempt waits until one does"
            if let near = NearestName.nearest(to: target, in: targets) { text += "; did you mean \(near)? (target names are case-sensitive)" }
            return text
        }
    }

    /// Heartbeats older than this make a node not live (the worker's `node.dead_after`).
    public let deadAfter: Duration

    /// Creates the query with the dead-after limit.
    public init(deadAfter: Duration = LiveNodes.defaultDeadAfter) {
        self.deadAfter = deadAfter
    }

    static let live = PostgresStatement(
        name: "served_targets",
        sql: """
            SELECT count(*) AS live_nodes,
                   coalesce((SELECT array_agg(DISTINCT t ORDER BY t) FROM async_task_nodes n2, unnest(n2.targets) AS t
                             WHERE \(LiveNodes.condition("n2", deadAfterMilliseconds: "$1").sql)), '{}') AS targets
            FROM async_task_nodes n
            WHERE \(LiveNodes.condition("n", deadAfterMilliseconds: "$1").sql)
            """)

    /// Reads what live nodes serve.
    /// - Throws: `PostgresError`.
    public func snapshot(on connection: PostgresConnection) async throws(PostgresError) -> Snapshot {
        let row = try await connection.query(Self.live, [deadAfter.milliseconds]).single()
        return Snapshot(
            liveNodes: try row.decode(Int.self, "live_nodes"), targets: try row.decode([String].self, "targets"), deadAfter: deadAfter)
    }
}
