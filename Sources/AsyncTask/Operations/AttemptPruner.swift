public import AsyncTaskCore
import Foundation
public import Logging
public import PostgresClient

/// Retention: deletes finished attempts older than their status's retention, in small batches.
///
/// Each batch is one short DELETE of at most `batchSize` rows found through the finished-rows index, oldest
/// first, skipping rows another transaction holds (`SKIP LOCKED`), so pruning never waits on, nor long blocks,
/// claims, outcome writes or operator actions. Pending attempts are never deleted. Inside a cluster only one
/// node prunes at a time: `pruneIfLeader` takes a session advisory lock and gives up at once when another
/// node holds it.
public struct AttemptPruner: Sendable {
    /// How long finished attempts are kept, by status.
    public struct Policy: Sendable, Hashable {
        /// Succeeded attempts are kept this long after completion (default 7 days).
        public var succeeded: Duration
        /// Failed and expired attempts are kept this long after completion (default 30 days).
        public var failed: Duration

        /// Creates a policy; defaults 7 days and 30 days.
        public init(succeeded: Duration = .seconds(7 * 86_400), failed: Duration = .seconds(30 * 86_400)) {
            self.succeeded = succeeded
            self.failed = failed
        }
    }

    /// Rows per DELETE.
    public let batchSize: Int
    /// Pause between batches, giving other statements room on a busy table.
    public let pause: Duration

    /// Creates a pruner.
    public init(batchSize: Int = 1000, pause: Duration = .milliseconds(10)) {
        self.batchSize = max(1, batchSize)
        self.pause = pause
    }

    // "asyncprn" in ASCII: the session advisory lock that lets one node prune at a time.
    static let lockKey: Int64 = 0x6173_796E_6370_726E

    static let tryLock = PostgresStatement(name: "prune_try_lock", sql: "SELECT pg_try_advisory_lock($1) AS locked")
    static let unlock = PostgresStatement(name: "prune_unlock", sql: "SELECT pg_advisory_unlock($1) AS unlocked")

    // The inner SELECT walks async_task_attempts_finished_idx (status, completed_at) for one status. A failed head
    // that blocks its ordering key (schema v9) stays: pruning it would let the key move on unseen.
    static let deleteBatch = PostgresStatement(
        name: "prune_attempts_batch",
        sql: """
            DELETE FROM async_task_attempts
            WHERE id IN (
                SELECT id FROM async_task_attempts
                WHERE status = $1 AND completed_at < now() - $2 * interval '1 millisecond' AND NOT key_blocked
                ORDER BY completed_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED)
            """)

    static let countOld = PostgresStatement(
        name: "prune_attempts_count",
        sql: """
            SELECT count(*) AS n FROM async_task_attempts
            WHERE status = $1 AND completed_at < now() - $2 * interval '1 millisecond' AND NOT key_blocked
            """)

    /// The statuses each retention applies to.
    static func statuses(_ policy: Policy) -> [(AttemptStatus, Duration)] {
        [(.succeeded, policy.succeeded), (.failed, policy.failed), (.expired, policy.failed)]
    }

    /// How many finished attempts with `status` completed more than `olderThan` ago.
    public func count(status: AttemptStatus, olderThan: Duration, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await connection.query(Self.countOld, [status.rawValue, olderThan.milliseconds]).single().decode(Int.self, "n")
    }

    /// Deletes attempts with `status` completed more than `olderThan` ago, batch by batch, until none is left.
    /// - Parameter progress: called after each batch with the number deleted so far.
    /// - Returns: how many were deleted.
    /// - Throws: `PostgresError` (batches already deleted stay deleted), or `CancellationError`.
    @discardableResult
    public func prune(
        status: AttemptStatus, olderThan: Duration, on connection: PostgresConnection, progress: (Int) -> Void = { _ in }
    ) async throws -> Int {
        precondition(status != .pending, "pending attempts are never pruned")
        var deleted = 0
        while true {
            try Task.checkCancellation()
            let batch = try await connection.query(Self.deleteBatch, [status.rawValue, olderThan.milliseconds, Int64(batchSize)]).affectedRows
            deleted += batch
            progress(deleted)
            if batch < batchSize { return deleted }
            try await Task.sleep(for: pause)
        }
    }

    /// Applies `policy` when no other node is pruning: takes the cluster-wide advisory lock without waiting,
    /// prunes every finished status, and releases the lock.
    /// - Returns: deleted counts by status, or nil when another node holds the lock.
    public func pruneIfLeader(policy: Policy, pool: PostgresConnectionPool) async throws -> [AttemptStatus: Int]? {
        try await pool.withConnection { connection in
            guard try await connection.query(Self.tryLock, [Self.lockKey]).single().decode(Bool.self, "locked") else { return nil }
            do {
                var counts: [AttemptStatus: Int] = [:]
                for (status, age) in Self.statuses(policy) {
                    counts[status] = try await prune(status: status, olderThan: age, on: connection)
                }
                _ = try? await connection.query(Self.unlock, [Self.lockKey])
                return counts
            } catch {
                // A failed or cancelled connection drops the session lock with it; a live one is unlocked here.
                _ = try? await connection.query(Self.unlock, [Self.lockKey])
                throw error
            }
        }
    }

    /// Prunes with `policy` every `interval` until the task is cancelled; errors are logged and retried at the
    /// next interval.
    public func runPeriodically(policy: Policy, interval: Duration, pool: PostgresConnectionPool, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                guard let counts = try await pruneIfLeader(policy: policy, pool: pool) else {
                    logger.debug("retention: another node is pruning")
                    continue
                }
                let total = counts.values.reduce(0, +)
                if total > 0 {
                    logger.info(
                        "retention: deleted finished attempts",
                        metadata: [
                            "succeeded": .stringConvertible(counts[.succeeded] ?? 0), "failed": .stringConvertible(counts[.failed] ?? 0),
                            "expired": .stringConvertible(counts[.expired] ?? 0),
                        ])
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("retention: pruning failed; retrying at the next interval", metadata: ["error": "\(error)"])
            }
        }
    }
}
