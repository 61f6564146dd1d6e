import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Foundation
import PostgresClient

/// Writes one batch of outcomes in one fenced UPDATE, and passes on the ordering keys they release (DESIGN §8):
/// the PostgreSQL side of `WorkerDriver.record`.
///
/// Every write is fenced by `locked_by = this node AND num_attempts = the claimed number AND status =
/// 'pending'`: a node whose lease was lost (and re-claimed elsewhere, or expired by an operator) cannot
/// overwrite the newer state.
struct OutcomeWriter: Sendable {
    // The fenced UPDATE is planned for each flush (not prepared): a generic plan cannot know the arrays' length
    // and picks a nested loop that re-reads the unnest for every row (quadratic: 1.5 s for a batch of 700 in
    // `make bench`); the custom plan hash-joins the batch against its rows, found through `a.id = ANY($2)`.
    // The try history (schema v5) rides in the same UPDATE: the node's entry for the try (`TryEntry`, $10) appended
    // to `tries`, the oldest dropped once it holds $11 (`Schema.keptTries`).
    // A keyed attempt failed under `ordering.on_failure: block` keeps its key (`key_blocked`, schema v9).

    /// The outcomes' unnest (`o`) and the fenced UPDATE of their rows (`done`), which both statements open with
    /// and end with their own RETURNING.
    static let fencedUpdate = """
        WITH o AS (
            SELECT * FROM unnest($2::bigint[], $3::integer[], $4::text[], $5::bigint[], $6::text[], $7::integer[], $8::text[], $9::text[],
                                 $10::text[], $12::boolean[])
                AS o(id, num_attempts, status, delay_ms, error, http_status, error_kind, excerpt, try, blocks_key)
        ), done AS (
        UPDATE async_task_attempts a
        SET status = o.status,
            completed_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END,
            available_at = CASE WHEN o.status = 'pending' THEN now() + o.delay_ms * interval '1 millisecond' ELSE a.available_at END,
            locked_by = NULL,
            last_error = coalesce(o.error, a.last_error),
            last_error_at = CASE WHEN o.error IS NULL THEN a.last_error_at ELSE now() END,
            last_http_status = coalesce(o.http_status, a.last_http_status),
            last_error_kind = CASE WHEN o.error IS NULL THEN a.last_error_kind ELSE o.error_kind END,
            last_response_excerpt = CASE WHEN o.error IS NULL THEN a.last_response_excerpt ELSE o.excerpt END,
            updated_at = now(),
            key_blocked = (o.status = 'failed' AND a.ordering_key IS NOT NULL AND o.blocks_key),
            tries = CASE WHEN jsonb_array_length(coalesce(a.tries, '[]')) >= $11 THEN a.tries - 0 ELSE coalesce(a.tries, '[]') END
                || o.try::jsonb
        FROM o
        WHERE a.id = ANY($2::bigint[]) AND a.id = o.id
          AND a.locked_by = $1 AND a.num_attempts = o.num_attempts AND a.status = 'pending'

        """

    // Batches with no keyed attempt (the node knows each attempt's key from its claim; it never changes after the
    // insert): the fenced UPDATE alone, in one statement (planned in 0.26 ms). No key is passed on, so there is
    // nothing to find, hand over or promote. A keyed row that came through here anyway would pass its key by the
    // per-row trigger (this statement does not mark its transaction), as before version 10.
    static let recordUnkeyed = PostgresStatement(
        name: "record_unkeyed_outcomes",
        sql: fencedUpdate + """
            RETURNING a.id
            )
            SELECT d.id FROM done d
            """, isPrepared: false)

    // A flush with keyed attempts runs two statements in one transaction. The fenced UPDATE first, as above,
    // marking its transaction so that the per-row trigger skips its rows and returning each row's key; then
    // `passKeys` for the keys it passed on (a lease that ended without blocking the key). The second statement is
    // prepared: the two were one statement planned at every flush, and planning its six references to the table
    // cost PostgreSQL 1.2-1.5 ms per flush (7 us per outcome in flushes of 200) for a plan that is the same every
    // time, driven by the passed keys. The transaction keeps the outcomes and the keys they pass atomic.
    static let recordKeyed = PostgresStatement(
        name: "record_keyed_outcomes",
        sql: fencedUpdate + """
              AND (SELECT set_config('\(Schema.keysPassedSetting)', 'flush', true)) IS NOT NULL
            RETURNING a.id, a.target, a.ordering_key, a.key_blocked
            )
            SELECT d.id, d.target, d.ordering_key, d.key_blocked FROM done d
            """, isPrepared: false)

    // Each key a flush passed on ($2/$3: target and key) has its next row found here, set-based (schema v10).
    // The statement runs after the fenced UPDATE in its transaction and sees the flushed rows' outcomes: the
    // key's next row is its earliest pending row (a retried row stays its key's head, and is not parked). One
    // ordered read of the key's range returns that row itself: the min(id) of the range and a second lookup of
    // the row by id cost 10% more of the flush (measured on 200,000 rows with 10,000 keys).
    // A next row that is parked and due is *handed over*: leased to this node in this statement, as a claim would
    // ($4/$5: at most that many per target, the room the node reserved for them; $6: the lease), unless an
    // operator paused or limited its target (those claims go through the claim function). The next row of the key
    // that just ran then costs one UPDATE instead of two (a promotion, then a claim) and starts without waiting
    // for a claim. Any other parked next row is promoted (due again at its own time). Both have the head
    // condition of the claims by construction: the earliest pending row of its key with no blocked row before it.
    // A row parked by an insert that commits after this statement's snapshot is promoted by its own commit's
    // check or by the nodes' sweep, as with the trigger.
    static let passKeys = PostgresStatement(
        name: "pass_keys",
        sql: """
            WITH passed AS (
                SELECT DISTINCT * FROM unnest($2::text[], $3::text[]) AS passed(target, ordering_key)
            ), parked AS (
                SELECT p.id, p.target, coalesce(p.scheduled_at, p.created_at) <= now() AS due
                FROM passed CROSS JOIN LATERAL (
                    SELECT k.id, k.target, k.ordering_key, k.available_at, k.scheduled_at, k.created_at FROM async_task_attempts k
                    WHERE k.target = passed.target AND k.ordering_key = passed.ordering_key
                      AND k.status = '\(AttemptStatus.pending)' AND k.ordering_key IS NOT NULL
                    ORDER BY k.id LIMIT 1) p
                WHERE p.available_at = 'infinity'
                  AND NOT EXISTS (SELECT 1 FROM async_task_attempts b
                                  WHERE b.target = p.target AND b.ordering_key = p.ordering_key AND b.id < p.id AND b.key_blocked)
            ), ranked AS (
                SELECT parked.id,
                       parked.due AND row_number() OVER (PARTITION BY parked.target, parked.due ORDER BY parked.id) <= coalesce(h.n, 0)
                       AND NOT EXISTS (
                           SELECT 1 FROM async_task_targets s
                           WHERE s.target = parked.target
                             AND (s.paused OR s.rate_per_second IS NOT NULL OR s.global_concurrency IS NOT NULL
                                  OR s.key_concurrency IS NOT NULL OR s.circuit_state <> '\(CircuitState.closed)')) AS hand_over
                FROM parked LEFT JOIN unnest($4::text[], $5::integer[]) AS h(target, n) ON h.target = parked.target
            ), handed AS (
                UPDATE async_task_attempts t
                SET num_attempts = t.num_attempts + 1, locked_by = $1,
                    available_at = now() + $6 * interval '1 millisecond', updated_at = now(),
                    first_tried_at = coalesce(t.first_tried_at, now())
                FROM ranked
                WHERE t.id = ranked.id AND ranked.hand_over AND t.available_at = 'infinity' AND t.status = '\(AttemptStatus.pending)'
                RETURNING t.id, t.target, t.method_name, t.method_args::text AS method_args, t.encryptor, t.num_attempts,
                          t.max_attempts, t.idempotence_token,
                          (extract(epoch FROM now() - t.first_tried_at) * 1000)::bigint AS tried_for_ms, t.ordering_key
            ), promoted AS (
                UPDATE async_task_attempts p SET available_at = coalesce(p.scheduled_at, p.created_at)
                FROM ranked
                WHERE p.id = ranked.id AND NOT ranked.hand_over AND p.available_at = 'infinity' AND p.status = '\(AttemptStatus.pending)'
                RETURNING p.id
            )
            SELECT h.id, h.target, h.method_name, h.method_args, h.encryptor, h.num_attempts, h.max_attempts,
                   h.idempotence_token, h.tried_for_ms, h.ordering_key
            FROM handed h
            """)

    // One flush's calls of a target with a circuit (schema v10): counts failures in a row, opens or closes the
    // circuit and writes its webhook event. A flush of successes on a closed circuit with no failures counted
    // writes nothing.
    static let recordCircuit = PostgresStatement(
        name: "record_circuit",
        sql: """
            SELECT async_task_circuit_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS transition
            """)

    let nodeID: UUID
    /// `node.lease`: how long an attempt handed over by a flush is held, as a claim holds it.
    let lease: Duration
    /// The circuit breakers of the node's targets that have one.
    var circuits: [String: CircuitSettings] = [:]

    /// Reports `batch`'s calls to the circuits of their targets (`accepted`: the outcomes written); returns the
    /// transitions made, by target.
    func reportCircuits(_ batch: [AttemptOutcome], accepted: Set<Int64>, on pool: PostgresConnectionPool) async throws -> [String: CircuitTransition]
    {
        var transitions: [String: CircuitTransition] = [:]
        for report in CircuitReport.reports(for: batch, accepted: accepted, circuits: circuits) {
            guard let circuit = circuits[report.target] else { continue }
            let row = try await pool.query(
                Self.recordCircuit,
                [
                    report.target, Int32(clamping: report.trailingFailures), report.sawSuccess, Int32(clamping: report.successes),
                    report.lastError, Int32(clamping: circuit.failures), circuit.window.milliseconds, circuit.cooldown.milliseconds,
                    Int32(clamping: circuit.probes), nodeID,
                ]
            ).single()
            if let text = try row.decode(String?.self, "transition"), let transition = CircuitTransition(rawValue: text) {
                transitions[report.target] = transition
            }
        }
        return transitions
    }

    /// Writes `batch`; returns the ids of the attempts whose outcome the fence let through, and the next attempts
    /// of ordering keys it passed on that it leased to this node, at most `handover`'s limit of each target.
    func write(_ batch: [AttemptOutcome], handover: ClaimPlan, on pool: PostgresConnectionPool) async throws -> RecordResult {
        try await pool.withConnection { connection in try await write(batch, handover: handover, on: connection) }
    }

    /// `write(_:handover:on:)` on one connection.
    func write(_ batch: [AttemptOutcome], handover: ClaimPlan, on connection: PostgresConnection) async throws -> RecordResult {
        var ids: [Int64] = []
        var numbers: [Int32] = []
        var statuses: [String] = []
        var delays: [Int64?] = []
        var errors: [String?] = []
        var statusCodes: [Int32?] = []
        var kinds: [String?] = []
        var excerpts: [String?] = []
        var tries: [String] = []
        var blocksKey: [Bool] = []
        var keyed = false
        let node = nodeID.uuidString.lowercased()
        for outcome in batch {
            blocksKey.append(outcome.blocksKey)
            tries.append(TryEntry(outcome, node: node).json)
            ids.append(outcome.attempt.id)
            numbers.append(Int32(clamping: outcome.attempt.attemptNumber))
            let stored = outcome.disposition.stored
            statuses.append(stored.status.rawValue)
            delays.append(stored.delayMilliseconds)
            errors.append(outcome.error)
            kinds.append(outcome.errorKind?.rawValue)
            excerpts.append(outcome.excerpt.flatMap { $0.isEmpty ? nil : $0 })
            statusCodes.append(outcome.httpStatus.map { Int32(clamping: $0) })
            keyed = keyed || outcome.attempt.orderingKey != nil
        }
        let parameters: [any PostgresEncodable] = [
            nodeID, ids, numbers, statuses, delays, errors, statusCodes, kinds, excerpts, tries, Int32(Schema.keptTries), blocksKey,
        ]
        guard keyed else {
            let rows = try await connection.query(Self.recordUnkeyed, parameters)
            return RecordResult(accepted: Set(try rows.map { try $0.decode(Int64.self, "id") }))
        }
        return try await connection.withTransaction { connection in
            var result = RecordResult(accepted: [])
            var passed: (targets: [String], keys: [String]) = ([], [])
            for row in try await connection.query(Self.recordKeyed, parameters) {
                let id = try row.decode(Int64.self, "id")
                result.accepted.insert(id)
                guard let key = try row.decode(String?.self, "ordering_key"), !(try row.decode(Bool.self, "key_blocked")) else { continue }
                passed.targets.append(try row.decode(String.self, "target"))
                passed.keys.append(key)
            }
            guard !passed.keys.isEmpty else { return result }
            let handed = try await connection.query(
                Self.passKeys,
                [
                    nodeID, passed.targets, passed.keys, handover.caps.map(\.target), handover.caps.map { Int32(clamping: $0.limit) },
                    lease.milliseconds,
                ])
            result.handedOver = try handed.map { try AttemptClaimer.attempt($0) }
            return result
        }
    }
}
