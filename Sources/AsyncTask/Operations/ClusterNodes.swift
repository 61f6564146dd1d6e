import AsyncTaskCore
public import Foundation
public import PostgresClient

/// The worker nodes as operators see them: live or not, heartbeat age, in-flight calls, leases held, targets.
public struct ClusterNodes: Sendable {
    /// One node's row with derived liveness.
    public struct NodeInfo: Sendable, Hashable, Codable {
        /// The node's id.
        public var id: UUID
        /// Its host name.
        public var hostname: String
        /// Its process id.
        public var pid: Int
        /// The asynctask version it runs.
        public var version: String
        /// `active`, `draining`, `stopped` or `dead`, as stored.
        public var status: String
        /// True when its status is active or draining and its heartbeat is fresher than the dead-after limit
        /// (`LiveNodes`).
        public var live: Bool
        /// When it started.
        public var startedAt: Date
        /// Its last heartbeat.
        public var heartbeatAt: Date
        /// Seconds since that heartbeat.
        public var heartbeatAgeSeconds: Double
        /// Its concurrency limit.
        public var concurrency: Int
        /// Calls in flight at its last heartbeat.
        public var inFlight: Int
        /// Pending attempts it holds a lease on now.
        public var leases: Int
        /// The targets it serves.
        public var targets: [String]
    }

    /// Heartbeats older than this make a node count as not live (the worker's `node.dead_after` default).
    public let deadAfter: Duration

    /// Creates the query with the dead-after limit used for `live`.
    public init(deadAfter: Duration = LiveNodes.defaultDeadAfter) {
        self.deadAfter = deadAfter
    }

    // Leases are counted through the locked_by partial index. Live nodes first, then the most recent.
    static let list = PostgresStatement(
        name: "cluster_nodes",
        sql: """
            SELECT n.id, n.hostname, n.pid, n.version, n.status, n.started_at, n.heartbeat_at,
                   extract(epoch FROM now() - n.heartbeat_at)::float8 AS heartbeat_age,
                   n.concurrency, n.in_flight, n.targets,
                   (SELECT count(*) FROM async_task_attempts a WHERE a.locked_by = n.id AND a.status = 'pending') AS leases,
                   \(LiveNodes.condition("n", deadAfterMilliseconds: "$1").sql) AS live
            FROM async_task_nodes n
            WHERE $2 OR n.status IN ('active', 'draining') OR n.heartbeat_at > now() - interval '1 hour'
            ORDER BY live DESC, n.hostname, n.started_at DESC
            """)

    /// Nodes that are live or were seen in the last hour (or every node with `all`).
    /// - Throws: `PostgresError`.
    public func list(all: Bool = false, on connection: PostgresConnection) async throws(PostgresError) -> [NodeInfo] {
        try await connection.query(Self.list, [deadAfter.milliseconds, all]).map { row throws(PostgresError) in
            NodeInfo(
                id: try row.decode(UUID.self, "id"), hostname: try row.decode(String.self, "hostname"),
                pid: try row.decode(Int.self, "pid"), version: try row.decode(String.self, "version"),
                status: try row.decode(String.self, "status"), live: try row.decode(Bool.self, "live"),
                startedAt: try row.decode(Date.self, "started_at"), heartbeatAt: try row.decode(Date.self, "heartbeat_at"),
                heartbeatAgeSeconds: try row.decode(Double.self, "heartbeat_age"), concurrency: try row.decode(Int.self, "concurrency"),
                inFlight: try row.decode(Int.self, "in_flight"), leases: try row.decode(Int.self, "leases"),
                targets: try row.decode([String].self, "targets"))
        }
    }
}
