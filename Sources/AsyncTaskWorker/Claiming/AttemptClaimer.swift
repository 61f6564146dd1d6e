import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Foundation
import PostgresClient

/// Claims due attempts for this node in one statement, within per-target limits (DESIGN §8).
struct AttemptClaimer: Sendable {
    // Each target gets its own LIMIT (its free capacity on this node) through a LATERAL subquery, so the
    // per-target caps hold at every moment; SKIP LOCKED lets concurrent nodes claim disjoint rows without
    // waiting. The outer LIMIT ($5, the node's free capacity) keeps the most urgent of those across targets:
    // every target is offered the whole node share, so a target with nothing due never starves the others.
    // Targets an operator paused (async_task_targets, schema v7) are skipped here, so a pause stops new claims
    // at once on every node, not only after the next heartbeat; so are targets an operator limited (schema v8,
    // v10) and targets whose circuit is not closed (schema v10), which only the claim function below claims for. The claim bumps num_attempts, which fences every later
    // write of this lease.
    // The claim's commit does not wait for its WAL to reach the disk (synchronous_commit off for this statement's
    // transaction only, set in the statement so it costs no round trip): on a durable server that wait is the
    // whole pickup latency and more (one fsync, 0.4 ms on an idle disk, 28 ms on a busy one). Nothing depends on a
    // claim surviving a server crash: one lost in a crash leaves the attempt pending with its earlier
    // num_attempts, so it runs again (at-least-once), and the outcome of the call made under the lost claim is
    // fenced out by its number. The enqueue and the outcome stay durable.
    // Prepared: its generic plan is the custom one (the caps' LATERAL index scans of the claim index, one per
    // target), and planning it cost 0.55 ms of PostgreSQL's CPU per claim, as much as running it: at 1,000
    // attempts/s a node claims a few hundred times a second, each claim a row or two.
    // The picked rows are updated through an id array (`t.id = ANY (ARRAY(…))`: primary-key lookups), not joined
    // (`FROM picked WHERE t.id = picked.id`): the generic plan cannot know $5 and guessed a thousand picked rows,
    // which on tables of about 100,000 rows made hashing the whole table look cheaper than a thousand lookups:
    // 30-50 ms per claim instead of 2-4, a drain of 100,000 at 5,563 attempts/s instead of 14,000.
    // (`ClaimScanTests` counts sequential scans of the table under forced generic plans.) The leased rows come back
    // in the picked order (priority, then due time), joined to `picked` after the UPDATE: a join of two CTEs of the
    // claim's size, which reads no table.
    static let claim = PostgresStatement(
        name: "claim_attempts",
        sql: """
            WITH caps AS (
                SELECT c.target, c.n FROM unnest($1::text[], $2::integer[]) AS c(target, n)
                WHERE NOT EXISTS (
                    SELECT 1 FROM async_task_targets s
                    WHERE s.target = c.target
                      AND (s.paused OR s.rate_per_second IS NOT NULL OR s.global_concurrency IS NOT NULL
                           OR s.key_concurrency IS NOT NULL OR s.circuit_state <> '\(CircuitState.closed)')
                )
            ), picked AS (
                SELECT p.id, p.priority, p.available_at FROM caps CROSS JOIN LATERAL (
                    SELECT a.id, a.priority, a.available_at FROM async_task_attempts a
                    WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = caps.target
                      AND \(Schema.orderedKeyHeadCondition)
                    ORDER BY a.priority, a.available_at, a.id
                    LIMIT caps.n
                    FOR UPDATE SKIP LOCKED
                ) p
                ORDER BY p.priority, p.available_at, p.id
                LIMIT $5
            ), claimed AS (
            UPDATE async_task_attempts t
            SET num_attempts = t.num_attempts + 1, locked_by = $3,
                available_at = now() + $4 * interval '1 millisecond', updated_at = now(),
                first_tried_at = coalesce(t.first_tried_at, now())
            WHERE t.id = ANY (ARRAY(SELECT picked.id FROM picked))
              AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL
            RETURNING t.id, t.target, t.method_name, t.method_args::text AS method_args, t.encryptor, t.num_attempts,
                      t.max_attempts, t.idempotence_token,
                      (extract(epoch FROM now() - coalesce(t.first_tried_at, now())) * 1000)::bigint AS tried_for_ms,
                      t.ordering_key
            )
            SELECT c.* FROM claimed c JOIN picked p ON p.id = c.id ORDER BY p.priority, p.available_at, p.id
            """)

    // Targets with a cluster-wide limit or a circuit (schema v8, v10): the claim function locks each target's row in turn and
    // claims within its limits; a row without an id names a target a limit cut short, and when to ask again.
    // The ordering key comes from the claimed row as the statement's snapshot has it: it never changes after
    // the insert, and the claimed rows were committed before the claim began.
    static let claimLimited = PostgresStatement(
        name: "claim_limited_attempts",
        sql: """
            SELECT c.id, c.target, c.method_name, c.method_args, c.encryptor, c.num_attempts, c.max_attempts,
                   c.idempotence_token, c.tried_for_ms, c.throttled_ms, a.ordering_key
            FROM async_task_claim_limited($1::text[], $2::integer[], $3::double precision[], $4::integer[],
                                          $5::integer[], $6::integer[], $7::integer[], $8::bigint[], $9, $10) AS c
            LEFT JOIN async_task_attempts a ON a.id = c.id
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

    /// Claims up to `reservation.total` due attempts, at most each cap's `limit` of its target, most urgent first;
    /// targets with a cluster-wide limit through the claim function, within their limits.
    func claim(_ reservation: ClaimPlan, on connection: PostgresConnection) async throws -> ClaimResult {
        guard !reservation.caps.isEmpty, reservation.total > 0 else { return ClaimResult(attempts: []) }
        let free = reservation.caps.filter { reservation.limits[$0.target] == nil }
        // Sorted, so two nodes' claim functions lock the targets' rows in one order.
        let limited = reservation.caps.filter { reservation.limits[$0.target] != nil }.sorted { $0.target < $1.target }
        var result = ClaimResult(attempts: [])
        if !free.isEmpty {
            let total = min(reservation.total, free.reduce(0) { $0 + $1.limit })
            let rows = try await connection.query(
                Self.claim, [free.map(\.target), free.map { Int32($0.limit) }, nodeID, lease.milliseconds, Int32(total)])
            for row in rows { result.attempts.append(try Self.attempt(row)) }
        }
        let room = reservation.total - result.attempts.count
        if !limited.isEmpty, room > 0 {
            var left = room
            var wants: [Int32] = []
            for cap in limited {
                let want = min(cap.limit, left)
                wants.append(Int32(want))
                left -= want
            }
            let limits = limited.map { reservation.limits[$0.target] ?? .none }
            let rows = try await connection.query(
                Self.claimLimited,
                [
                    limited.map(\.target), wants, limits.map(\.rate), limits.map { $0.burst.map(Int32.init(clamping:)) },
                    limits.map { $0.globalConcurrency.map(Int32.init(clamping:)) }, limits.map { $0.keyConcurrency.map(Int32.init(clamping:)) },
                    limits.map { $0.circuit.map { Int32(clamping: $0.probes) } }, limits.map { $0.circuit?.cooldown.milliseconds },
                    nodeID, lease.milliseconds,
                ])
            for row in rows {
                if let wait = try row.decode(Int?.self, "throttled_ms") {
                    result.throttled[try row.decode(String.self, "target")] = .milliseconds(wait)
                } else {
                    result.attempts.append(try Self.attempt(row))
                }
            }
        }
        return result
    }

    /// The claimed attempt in a row of the claim's columns (a claim's, or an outcome flush's handover).
    static func attempt(_ row: PostgresRow) throws -> ClaimedAttempt {
        ClaimedAttempt(
            id: try row.decode(Int64.self, "id"),
            target: try row.decode(String.self, "target"),
            methodName: try row.decode(String.self, "method_name"),
            methodArgs: try row.decode(String.self, "method_args"),
            encryptor: try row.decode(String?.self, "encryptor"),
            attemptNumber: try row.decode(Int.self, "num_attempts"),
            maxAttempts: try row.decode(Int?.self, "max_attempts"),
            idempotenceToken: try row.decode(String?.self, "idempotence_token"),
            triedFor: .milliseconds(try row.decode(Int64.self, "tried_for_ms")),
            orderingKey: try row.decode(String?.self, "ordering_key"))
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
