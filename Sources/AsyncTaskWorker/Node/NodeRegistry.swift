import AsyncTask
import AsyncTaskCore
import Foundation
import Logging
import PostgresClient

/// This node's row in `async_task_nodes`, its heartbeat, its lease renewal, and the reaping of dead nodes.
///
/// All statements are single round trips on the pool: one heartbeat UPDATE, one lease-renewal UPDATE for all
/// of the node's in-flight attempts, one reaping statement that marks silent nodes dead and releases their
/// leases at once (so their attempts restart within `dead_after`, not after a long lease).
struct NodeRegistry: Sendable {
    /// Node statuses as stored.
    typealias Status = NodeStatus

    static let register = PostgresStatement(
        name: "node_register",
        sql: """
            INSERT INTO async_task_nodes (id, hostname, pid, version, concurrency, targets, status)
            VALUES ($1, $2, $3, $4, $5, $6, 'active')
            ON CONFLICT (id) DO UPDATE
            SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
                concurrency = excluded.concurrency, targets = excluded.targets, status = 'active',
                started_at = now(), heartbeat_at = now(), stopped_at = NULL
            """)

    // Returns the status before this heartbeat: 'dead' means another node declared this one dead (it was
    // stopped or cut off); its leases were released and its late outcomes will be fenced out.
    static let heartbeat = PostgresStatement(
        name: "node_heartbeat",
        sql: """
            UPDATE async_task_nodes n
            SET heartbeat_at = now(), in_flight = $2, counters = $3::jsonb,
                status = CASE WHEN n.status IN ('dead', 'stopped') THEN $4 ELSE n.status END
            FROM (SELECT status AS previous FROM async_task_nodes WHERE id = $1) p
            WHERE n.id = $1
            RETURNING p.previous
            """)

    static let setStatus = PostgresStatement(
        name: "node_set_status",
        sql: """
            UPDATE async_task_nodes
            SET status = $2, heartbeat_at = now(),
                stopped_at = CASE WHEN $2 = 'stopped' THEN now() ELSE stopped_at END,
                in_flight = CASE WHEN $2 = 'stopped' THEN 0 ELSE in_flight END
            WHERE id = $1
            """)

    // Only the leases the node knows it holds (attempt id and number, from `HeldLeases`), and of those only the
    // ones that would lapse within half a lease, are extended: one statement for all of them. A row leased to
    // this node that it does not know about (a claim whose answer was lost) is left to lapse, so it runs again.
    // Planned each time, like the outcome flush: a generic plan cannot know the arrays' length.
    static let renewLeases = PostgresStatement(
        name: "renew_leases",
        sql: """
            UPDATE async_task_attempts a
            SET available_at = now() + $2 * interval '1 millisecond'
            FROM unnest($4::bigint[], $5::integer[]) AS h(id, num_attempts)
            WHERE a.id = ANY($4::bigint[]) AND a.id = h.id AND a.num_attempts = h.num_attempts
              AND a.locked_by = $1 AND a.status = 'pending' AND a.available_at < now() + $3 * interval '1 millisecond'
            """, isPrepared: false)

    static let reapDeadNodes = PostgresStatement(
        name: "reap_dead_nodes",
        sql: """
            WITH dead AS (
                UPDATE async_task_nodes SET status = 'dead'
                WHERE status IN ('active', 'draining') AND heartbeat_at < now() - $1 * interval '1 millisecond' AND id <> $2
                RETURNING id, hostname
            ), released AS (
                UPDATE async_task_attempts a SET locked_by = NULL, available_at = now(), updated_at = now()
                FROM dead WHERE a.locked_by = dead.id AND a.status = 'pending'
                RETURNING a.id
            )
            SELECT (SELECT coalesce(array_agg(hostname || ' (' || id || ')'), '{}') FROM dead) AS nodes,
                   (SELECT count(*) FROM released) AS released
            """)

    static let releaseLeases = PostgresStatement(
        name: "release_leases",
        sql: """
            UPDATE async_task_attempts SET locked_by = NULL, available_at = now(), updated_at = now()
            WHERE locked_by = $1 AND status = 'pending'
            """)

    // Targets with due work that no live node serves: such attempts wait (never dropped) until a node with the
    // target starts, so they are reported.
    static let unservedTargets = PostgresStatement(
        name: "unserved_targets",
        sql: """
            SELECT a.target, count(*) AS pending
            FROM async_task_attempts a
            WHERE a.status = 'pending' AND a.available_at <= now()
              AND NOT EXISTS (SELECT 1 FROM async_task_nodes n WHERE n.status IN ('active', 'draining') AND a.target = ANY(n.targets))
            GROUP BY a.target
            """)

    // Keyed rows parked (schema v9) behind a predecessor whose outcome was committed in the same moment as the
    // row's insert: neither the outcome's promotion nor the insert's check at commit saw the other, so the row
    // waits for no one. The sweep walks the parked rows in id order, a page per run, and promotes those that now
    // head their key; the head condition is the claim's, so a row still behind another stays parked.
    static let promoteStrandedParked = PostgresStatement(
        name: "promote_stranded_parked",
        sql: """
            WITH page AS (
                SELECT p.id FROM async_task_attempts p
                WHERE p.available_at = 'infinity' AND p.status = 'pending' AND p.ordering_key IS NOT NULL AND p.id > $1
                ORDER BY p.id
                LIMIT $2
            ), promoted AS (
                UPDATE async_task_attempts a SET available_at = coalesce(a.scheduled_at, a.created_at)
                FROM page
                WHERE a.id = page.id AND a.available_at = 'infinity' AND a.status = 'pending'
                  AND \(Schema.orderedKeyHeadCondition)
                RETURNING a.id
            )
            SELECT (SELECT max(id) FROM page) AS last_id, (SELECT count(*) FROM promoted)::integer AS promoted
            """)

    let node: WorkerConfiguration.Node
    let targets: [String]
    let version: String
    let logger: Logger

    func register(on pool: PostgresConnectionPool) async throws {
        try await pool.query(
            Self.register,
            [
                node.id, node.hostname, Int32(ProcessInfo.processInfo.processIdentifier), version, Int32(node.concurrency), targets,
            ])
    }

    /// Reports the node alive; returns the status it had before (nil when its row vanished).
    func heartbeat(inFlight: Int, counters: [String: Int], status: Status, on pool: PostgresConnectionPool) async throws -> Status? {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: counters, options: [.sortedKeys]), as: UTF8.self)
        let rows = try await pool.query(Self.heartbeat, [node.id, Int32(clamping: inFlight), PostgresBind.jsonb(Data(json.utf8)), status.rawValue])
        guard let row = rows.first else { return nil }
        return Status(rawValue: try row.decode(String.self, "previous"))
    }

    func setStatus(_ status: Status, on pool: PostgresConnectionPool) async throws {
        try await pool.query(Self.setStatus, [node.id, status.rawValue])
    }

    /// Extends those of `leases` that `renewal` finds due; returns how many.
    func renewLeases(_ leases: [HeldLeases.Lease], by renewal: LeaseRenewal, on pool: PostgresConnectionPool) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        return try await pool.query(
            Self.renewLeases,
            [
                node.id, renewal.lease.milliseconds, renewal.window.milliseconds, leases.map(\.id),
                leases.map { Int32(clamping: $0.attemptNumber) },
            ]
        ).affectedRows
    }

    /// Marks silent nodes dead and releases their leases.
    func reapDeadNodes(on pool: PostgresConnectionPool) async throws -> (nodes: [String], released: Int) {
        let row = try await pool.query(Self.reapDeadNodes, [node.deadAfter.milliseconds, node.id]).single()
        return (try row.decode([String].self, "nodes"), try row.decode(Int.self, "released"))
    }

    /// Gives back every lease this node still holds (used when stopping).
    func releaseLeases(on pool: PostgresConnectionPool) async throws -> Int {
        try await pool.query(Self.releaseLeases, [node.id]).affectedRows
    }

    // The operator's controls of the targets this node serves (schema v7, v8, v10), and whether their circuit is
    // closed; a target without a row is not
    // paused and has no stored limit.
    static let targetControls = PostgresStatement(
        name: "target_controls",
        sql: """
            SELECT target, paused, rate_per_second, burst, global_concurrency, key_concurrency,
                   circuit_state <> '\(CircuitState.closed)' AS circuit_not_closed
            FROM async_task_targets
            WHERE target = ANY($1::text[])
              AND (paused OR rate_per_second IS NOT NULL OR burst IS NOT NULL OR global_concurrency IS NOT NULL
                   OR key_concurrency IS NOT NULL OR circuit_state <> '\(CircuitState.closed)')
            """)

    /// What an operator stored for the targets this node serves: pauses and limit overrides.
    func targetControls(on pool: PostgresConnectionPool) async throws -> TargetControlState {
        var controls = TargetControlState()
        for row in try await pool.query(Self.targetControls, [targets]) {
            let target = try row.decode(String.self, "target")
            if try row.decode(Bool.self, "paused") { controls.paused.insert(target) }
            let limits = TargetLimits(
                rate: try row.decode(Double?.self, "rate_per_second"), burst: try row.decode(Int?.self, "burst"),
                globalConcurrency: try row.decode(Int?.self, "global_concurrency"), keyConcurrency: try row.decode(Int?.self, "key_concurrency"),
                circuitNotClosed: try row.decode(Bool.self, "circuit_not_closed"))
            if limits != .none { controls.overrides[target] = limits }
        }
        return controls
    }

    /// Promotes parked keyed rows with ids above `after` (at most `limit` looked at) that head their key;
    /// returns the last id looked at (nil: none, so the next sweep starts over) and how many were promoted.
    func promoteStrandedParked(after: Int64, limit: Int, on pool: PostgresConnectionPool) async throws -> ParkedSweep {
        let row = try await pool.query(Self.promoteStrandedParked, [after, Int32(clamping: limit)]).single()
        return ParkedSweep(lastID: try row.decode(Int64?.self, "last_id"), promoted: try row.decode(Int.self, "promoted"))
    }

    /// Targets with due attempts that no live node serves, with their counts.
    func unservedTargets(on pool: PostgresConnectionPool) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try await pool.query(Self.unservedTargets) {
            result[try row.decode(String.self, "target")] = try row.decode(Int.self, "pending")
        }
        return result
    }
}
