public import Foundation
public import PostgresClient

extension ClusterStats {
    /// A time range the charts cover, with its bucket width.
    public enum Window: String, Sendable, Hashable, Codable, CaseIterable {
        /// The last hour in one-minute buckets.
        case hour = "1h"
        /// The last 24 hours in 15-minute buckets.
        case day = "24h"

        /// The range's length in seconds.
        public var seconds: Int { self == .hour ? 3600 : 86_400 }
        /// One bucket's width in seconds.
        public var bucketSeconds: Int { self == .hour ? 60 : 900 }
        /// How many buckets the range holds.
        public var buckets: Int { seconds / bucketSeconds }
    }

    /// One target's figures in one bucket: attempts finished in it, how long they waited for their first try,
    /// and how long their last try took.
    public struct SeriesPoint: Sendable, Hashable, Codable {
        /// The target name.
        public var target: String
        /// The bucket's start.
        public var bucket: Date
        /// Attempts that succeeded in the bucket.
        public var succeeded: Int
        /// Attempts that failed in the bucket.
        public var failed: Int
        /// Mean pickup lag: the first try's start minus when the attempt became due (`scheduled_at`, else
        /// `created_at`), over the bucket's attempts whose first try is still in their history.
        public var lagAvgSeconds: Double?
        /// The longest pickup lag in the bucket.
        public var lagMaxSeconds: Double?
        /// Mean duration of the try that finished each attempt (its call), in milliseconds.
        public var latencyAvgMs: Double?
        /// The 95th percentile of those durations.
        public var latencyP95Ms: Double?
    }

    /// The charts' data over a window.
    public struct Series: Sendable, Hashable, Codable {
        /// The window.
        public var window: Window
        /// Bucket width in seconds.
        public var bucketSeconds: Int
        /// Points by target and bucket; buckets where a target finished nothing are absent.
        public var points: [SeriesPoint]
        /// Buckets before this time are incomplete: more attempts finished in the window than `rowCap` of one
        /// status, so the oldest were not read. Nil when every bucket is complete.
        public var completeFrom: Date?
        /// At most this many finished rows per status are read, newest first.
        public var rowCap: Int
    }

    /// Finished rows read per status and window, newest first, so a chart costs a bounded index range scan
    /// however busy the day was (~50 ms for the cap's 50,000 rows on a laptop).
    public static let seriesRowCap = 50_000

    // $1 window seconds, $2 bucket seconds, $3 row cap per status, $4 include internal targets.
    // Each status is its own backward range scan of the finished index (status, completed_at) with a LIMIT, which
    // is what bounds the cost; `coverage` says where a capped status's rows stop. Lag and latency come from the
    // try history (schema v5): its first element, if it is try 1, and its last (the try that finished the row).
    // Clocks: started_at is the node's, created_at the database's, so a lag is floored at 0.
    static let series = PostgresStatement(
        name: "cluster_series",
        sql: """
            WITH recent AS (
                (SELECT target, status, completed_at, created_at, scheduled_at, tries FROM async_task_attempts
                 WHERE status = 'succeeded' AND completed_at > now() - $1 * interval '1 second'
                 ORDER BY completed_at DESC LIMIT $3)
                UNION ALL
                (SELECT target, status, completed_at, created_at, scheduled_at, tries FROM async_task_attempts
                 WHERE status = 'failed' AND completed_at > now() - $1 * interval '1 second'
                 ORDER BY completed_at DESC LIMIT $3)
            ), coverage AS (
                SELECT max(oldest) AS complete_from
                FROM (SELECT min(completed_at) AS oldest, count(*) AS n FROM recent GROUP BY status) s
                WHERE n >= $3
            ), measured AS (
                SELECT target, status,
                       floor(extract(epoch FROM completed_at) / $2) * $2 AS bucket,
                       CASE WHEN tries -> 0 ->> 'try' = '1'
                            THEN greatest(0, extract(epoch FROM (tries -> 0 ->> 'started_at')::timestamptz - coalesce(scheduled_at, created_at)))
                       END::float8 AS lag_s,
                       (tries -> -1 ->> 'duration_ms')::float8 AS latency_ms
                FROM recent
                WHERE $4::boolean OR left(target, 1) <> '@'
            )
            SELECT target, to_timestamp(bucket) AS bucket,
                   count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   avg(lag_s) AS lag_avg, max(lag_s) AS lag_max,
                   avg(latency_ms) AS latency_avg,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95,
                   (SELECT complete_from FROM coverage) AS complete_from
            FROM measured
            GROUP BY 1, 2
            ORDER BY 1, 2
            """)

    /// Per target and bucket over `window`: finished attempts, pickup lag and call latency.
    /// - Parameters:
    ///   - includeInternal: also the internal targets (`@webhook` deliveries).
    ///   - rowCap: finished rows read per status at most (see `Series.completeFrom`).
    /// - Throws: `PostgresError`.
    public func series(
        _ window: Window, includeInternal: Bool = false, rowCap: Int = ClusterStats.seriesRowCap, on connection: PostgresConnection
    ) async throws(PostgresError) -> Series {
        let rows = try await connection.query(
            Self.series, [Int64(window.seconds), Int64(window.bucketSeconds), Int64(rowCap), includeInternal])
        var completeFrom: Date?
        let points = try rows.map { row throws(PostgresError) in
            completeFrom = try row.decode(Date?.self, "complete_from")
            return SeriesPoint(
                target: try row.decode(String.self, "target"), bucket: try row.decode(Date.self, "bucket"),
                succeeded: try row.decode(Int.self, "succeeded"), failed: try row.decode(Int.self, "failed"),
                lagAvgSeconds: try row.decode(Double?.self, "lag_avg"), lagMaxSeconds: try row.decode(Double?.self, "lag_max"),
                latencyAvgMs: try row.decode(Double?.self, "latency_avg"), latencyP95Ms: try row.decode(Double?.self, "latency_p95"))
        }
        return Series(window: window, bucketSeconds: window.bucketSeconds, points: points, completeFrom: completeFrom, rowCap: rowCap)
    }
}
