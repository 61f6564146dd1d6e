import AsyncTaskCore
import Foundation
import PostgresClient

/// Claims due attempts for this node in one statement, within per-target limits (DESIGN §8).
struct AttemptClaimer: Sendable {
    // Each target gets its own LIMIT (its free capacity on this node) through a LATERAL subquery, so the
    // per-target caps hold at every moment; SKIP LOCKED lets concurrent nodes claim disjoint rows without
    // waiting. The outer LIMIT ($5, the node's free capacity) keeps the most urgent of those across targets:
    // every target is offered the whole node share, so a target with nothing due never starves the others.
    // Targets an operator paused (async_task_targets, schema v7) are skipped here, so a pause stops new claims
    // at once on every node, not only after the next heartbeat. The claim bumps num_attempts, which fences every later write of this lease.
    // The claim's commit does not wait for its WAL to reach the disk (synchronous_commit off for this statement's
    // transaction only, set in the statement so it costs no round trip): on a durable server that wait is the
    // whole pickup latency and more (one fsync, 0.4 ms on an idle disk, 28 ms on a busy one). Nothing depends on a
    // claim surviving a server crash: one lost in a crash leaves the attempt pending with its earlier
    // num_attempts, so it runs again (at-least-once), and the outcome of the call made under the lost claim is
    // fenced out by its number. The enqueue and the outcome stay durable.
    static let claim = PostgresStatement(
        name: "claim_attempts",
        sql: """
            WITH caps AS (
                SELECT c.target, c.n FROM unnest($1::text[], $2::integer[]) AS c(target, n)
                WHERE NOT EXISTS (SELECT 1 FROM async_task_targets s WHERE s.target = c.target AND s.paused)
            ), picked AS (
                SELECT p.id FROM caps CROSS JOIN LATERAL (
                    SELECT a.id, a.priority, a.available_at FROM async_task_attempts a
                    WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = caps.target
                    ORDER BY a.priority, a.available_at, a.id
                    LIMIT caps.n
                    FOR UPDATE SKIP LOCKED
                ) p
                ORDER BY p.priority, p.available_at, p.id
                LIMIT $5
            )
            UPDATE async_task_attempts t
            SET num_attempts = t.num_attempts + 1, locked_by = $3,
                available_at = now() + $4 * interval '1 millisecond', updated_at = now(),
                first_tried_at = coalesce(t.first_tried_at, now())
            FROM picked
            WHERE t.id = picked.id AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL
            RETURNING t.id, t.target, t.method_name, t.method_args::text AS method_args, t.encryptor, t.num_attempts,
                      t.max_attempts, t.idempotence_token,
                      (extract(epoch FROM now() - coalesce(t.first_tried_at, now())) * 1000)::bigint AS tried_for_ms
            """, isPrepared: false)

    // Gives back claimed attempts that never started (the prefetch buffer of a draining node): due again at
    // once, and the claim's count undone, so a try that never ran does not count against max_attempts. Fenced
    // like an outcome: only this node's lease under the claimed number.
    static let releaseUnstarted = PostgresStatement(
        name: "release_unstarted",
        sql: """
            UPDATE async_task_attempts a
            SET locked_by = NULL, available_at = now(), num_attempts = a.num_attempts - 1, updated_at = now(),
                first_tried_at = CASE WHEN a.num_attempts = 1 THEN NULL ELSE a.first_tried_at END
            FROM unnest($2::bigint[], $3::integer[]) AS u(id, num_attempts)
            WHERE a.id = ANY($2::bigint[]) AND a.id = u.id AND a.num_attempts = u.num_attempts
              AND a.locked_by = $1 AND a.status = 'pending'
            """, isPrepared: false)

    let nodeID: UUID
    let lease: Duration

    /// Claims up to `reservation.total` due attempts, at most each cap's `limit` of its target, most urgent first.
    func claim(_ reservation: ClaimPlan, on connection: PostgresConnection) async throws -> [ClaimedAttempt] {
        guard !reservation.caps.isEmpty, reservation.total > 0 else { return [] }
        let rows = try await connection.query(
            Self.claim,
            [
                reservation.caps.map(\.target), reservation.caps.map { Int32($0.limit) }, nodeID, lease.milliseconds, Int32(reservation.total),
            ])
        var claimed: [ClaimedAttempt] = []
        claimed.reserveCapacity(rows.count)
        for row in rows {
            claimed.append(
                ClaimedAttempt(
                    id: try row.decode(Int64.self, "id"),
                    target: try row.decode(String.self, "target"),
                    methodName: try row.decode(String.self, "method_name"),
                    methodArgs: try row.decode(String.self, "method_args"),
                    encryptor: try row.decode(String?.self, "encryptor"),
                    attemptNumber: try row.decode(Int.self, "num_attempts"),
                    maxAttempts: try row.decode(Int?.self, "max_attempts"),
                    idempotenceToken: try row.decode(String?.self, "idempotence_token"),
                    triedFor: .milliseconds(try row.decode(Int64.self, "tried_for_ms"))))
        }
        return claimed
    }

    /// Releases attempts this node claimed and never started; returns how many leases were given back.
    func release(_ attempts: [ClaimedAttempt], on connection: PostgresConnection) async throws -> Int {
        guard !attempts.isEmpty else { return 0 }
        return try await connection.query(
            Self.releaseUnstarted,
            [
                nodeID, attempts.map(\.id), attempts.map { Int32(clamping: $0.attemptNumber) },
            ]
        ).affectedRows
    }
}
