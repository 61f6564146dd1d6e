public import Foundation
public import PostgresClient

/// Per-target figures for operators: queue depth, lag, running calls, recent outcomes and throughput.
///
/// One set of queries behind `asynctask stats`, `GET /api/stats`, the dashboard and the queue gauges on
/// `/metrics`, so every surface shows the same numbers.
public struct ClusterStats: Sendable {
    /// The figures of one target.
    public struct TargetStats: Sendable, Hashable, Codable {
        /// The target name.
        public var target: String
        /// Pending attempts (due, scheduled, backing off or running).
        public var pending: Int
        /// Pending attempts runnable now (their `available_at` has passed) and not under a live lease.
        public var due: Int
        /// Pending attempts under a live lease: calls in flight.
        public var running: Int
        /// Attempts that succeeded in the last hour.
        public var succeededLastHour: Int
        /// Attempts that failed in the last hour.
        public var failedLastHour: Int
        /// Seconds the oldest due attempt has waited (0 when nothing is due).
        public var lagSeconds: Double
        /// Attempts finished (succeeded or failed) per second over the last five minutes.
        public var ratePerSecond: Double
        /// Pending attempts parked behind an earlier attempt of their ordering key (not due until it is final).
        public var waitingForKey: Int
        /// Seconds the longest-parked attempt has waited for its key since it was enqueued (0 when none waits).
        public var keyWaitSeconds: Double
        /// Ordering keys held by a failed head under `ordering.on_failure: block`, waiting for an operator.
        public var blockedKeys: Int
    }

    /// Finished attempts of one target in one minute.
    public struct ThroughputPoint: Sendable, Hashable, Codable {
        /// The target name.
        public var target: String
        /// The minute's start.
        public var minute: Date
        /// Succeeded in that minute.
        public var succeeded: Int
        /// Failed in that minute.
        public var failed: Int
    }

    /// Creates the queries.
    public init() {}

    // $1: whether internal targets ('@webhook') are included.
    // Pending rows through the claim index's predicate (parked rows, available_at 'infinity', are never due);
    // blocked keys through the blocked-key index; finished rows through the finished index's predicate
    // (status <> 'pending') restricted to the last hour. Due excludes live leases: a claimed row's
    // available_at is its lease end, in the future while the call runs.
    static let perTarget = PostgresStatement(
        name: "cluster_stats_per_target",
        sql: """
            WITH pending AS (
                SELECT target,
                       count(*) AS pending,
                       count(*) FILTER (WHERE available_at <= now()) AS due,
                       count(*) FILTER (WHERE locked_by IS NOT NULL AND available_at > now()) AS running,
                       coalesce(extract(epoch FROM now() - min(available_at) FILTER (WHERE available_at <= now())), 0)::float8 AS lag_seconds,
                       count(*) FILTER (WHERE available_at = 'infinity' AND ordering_key IS NOT NULL) AS waiting_for_key,
                       coalesce(extract(epoch FROM now() - min(coalesce(scheduled_at, created_at))
                           FILTER (WHERE available_at = 'infinity' AND ordering_key IS NOT NULL)), 0)::float8 AS key_wait_seconds
                FROM async_task_attempts
                WHERE status = 'pending' AND ($1::boolean OR left(target, 1) <> '@')
                GROUP BY target
            ), finished AS (
                SELECT target,
                       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                       count(*) FILTER (WHERE status = 'failed') AS failed,
                       count(*) FILTER (WHERE status IN ('succeeded', 'failed') AND completed_at > now() - interval '5 minutes') AS recent
                FROM async_task_attempts
                WHERE status <> 'pending' AND completed_at > now() - interval '1 hour' AND ($1::boolean OR left(target, 1) <> '@')
                GROUP BY target
            ), blocked AS (
                SELECT target, count(*) AS blocked_keys
                FROM async_task_attempts
                WHERE key_blocked AND ($1::boolean OR left(target, 1) <> '@')
                GROUP BY target
            )
            SELECT coalesce(p.target, f.target, b.target) AS target,
                   coalesce(p.pending, 0) AS pending, coalesce(p.due, 0) AS due, coalesce(p.running, 0) AS running,
                   coalesce(f.succeeded, 0) AS succeeded, coalesce(f.failed, 0) AS failed,
                   coalesce(p.lag_seconds, 0) AS lag_seconds, coalesce(f.recent, 0) / 300.0::float8 AS rate,
                   coalesce(p.waiting_for_key, 0) AS waiting_for_key, coalesce(p.key_wait_seconds, 0) AS key_wait_seconds,
                   coalesce(b.blocked_keys, 0) AS blocked_keys
            FROM pending p FULL JOIN finished f ON f.target = p.target
                 FULL JOIN blocked b ON b.target = coalesce(p.target, f.target)
            ORDER BY 1
            """)

    static let throughput = PostgresStatement(
        name: "cluster_throughput",
        sql: """
            SELECT target, date_trunc('minute', completed_at) AS minute,
                   count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                   count(*) FILTER (WHERE status = 'failed') AS failed
            FROM async_task_attempts
            WHERE status <> 'pending' AND completed_at > date_trunc('minute', now()) - $1 * interval '1 minute'
              AND ($2::boolean OR left(target, 1) <> '@')
            GROUP BY 1, 2
            ORDER BY 1, 2
            """)

    /// Figures for every target with pending attempts or attempts finished in the last hour, by name.
    /// - Parameter includeInternal: also the internal targets (`@webhook` deliveries), which operators' views
    ///   show apart from user attempts.
    /// - Throws: `PostgresError`.
    public func perTarget(includeInternal: Bool = false, on connection: PostgresConnection) async throws(PostgresError) -> [TargetStats] {
        try await connection.query(Self.perTarget, [includeInternal]).map { row throws(PostgresError) in
            TargetStats(
                target: try row.decode(String.self, "target"), pending: try row.decode(Int.self, "pending"),
                due: try row.decode(Int.self, "due"), running: try row.decode(Int.self, "running"),
                succeededLastHour: try row.decode(Int.self, "succeeded"), failedLastHour: try row.decode(Int.self, "failed"),
                lagSeconds: try row.decode(Double.self, "lag_seconds"), ratePerSecond: try row.decode(Double.self, "rate"),
                waitingForKey: try row.decode(Int.self, "waiting_for_key"), keyWaitSeconds: try row.decode(Double.self, "key_wait_seconds"),
                blockedKeys: try row.decode(Int.self, "blocked_keys"))
        }
    }

    /// Succeeded and failed attempts per target and minute over the last `minutes` minutes (minutes without any
    /// finished attempt are absent).
    public func throughput(minutes: Int = 60, includeInternal: Bool = false, on connection: PostgresConnection) async throws(PostgresError)
        -> [ThroughputPoint]
    {
        try await connection.query(Self.throughput, [Int64(minutes), includeInternal]).map { row throws(PostgresError) in
            ThroughputPoint(
                target: try row.decode(String.self, "target"), minute: try row.decode(Date.self, "minute"),
                succeeded: try row.decode(Int.self, "succeeded"), failed: try row.decode(Int.self, "failed"))
        }
    }
}
