public import AsyncTaskCore
public import Foundation
public import PostgresClient

/// Operator controls per target, shared by the whole cluster through `async_task_targets` (schema v7, v8, v10):
/// pause and resume, limits that hold for all nodes together (`set`), and the listing of every target with its
/// state and load (`asynctask targets`, the admin API).
///
/// A pause is one row update: the claim statement of every node skips the target from its next claim on, and
/// each node gives back what it claimed ahead of the target within one heartbeat. Calls in flight finish; pending
/// attempts wait and keep their tries (nothing fails or expires because of a pause).
public struct TargetControls: Sendable {
    /// One target as operators see it.
    public struct TargetInfo: Sendable, Hashable, Codable {
        /// The target's name.
        public var name: String
        /// True while an operator has it paused.
        public var paused: Bool
        /// Since when it is paused.
        public var pausedAt: Date?
        /// Who paused it (free text given to `pause`).
        public var pausedBy: String?
        /// Live nodes that serve it.
        public var servedBy: Int
        /// Its pending attempts (due, scheduled, retrying or leased).
        public var pending: Int
        /// Of those, the ones due now and not leased.
        public var due: Int
        /// Attempts leased to a node now, cluster-wide (in flight or claimed ahead).
        public var inFlight: Int
        /// Outcomes recorded per second over the last minute (finished attempts and failed tries).
        public var callsPerSecond: Double
        /// The stored `rate` in calls per second (`set`; nil: the nodes' config files decide).
        public var rate: Double?
        /// The stored `burst`.
        public var burst: Int?
        /// The stored `global_concurrency`.
        public var globalConcurrency: Int?
        /// Who stored the limits.
        public var limitsSetBy: String?
        /// Ordering keys held by a failed head (`ordering.on_failure: block`) until an operator acts.
        public var blockedKeys: Int
        /// The stored `key_concurrency`.
        public var keyConcurrency: Int? = nil
        /// The cluster's circuit of the target (schema v10).
        public var circuitState: CircuitState = .closed
        /// When the circuit last changed state.
        public var circuitChangedAt: Date? = nil
        /// When an open circuit lets probe calls through (open) or gives up on undecided probes (half-open).
        public var circuitRetryAt: Date? = nil
        /// Retryable failures in a row counted now (closed), or the run that opened it.
        public var circuitFailures: Int = 0
        /// How often the circuit has opened.
        public var circuitTimesOpened: Int = 0
        /// The failure that last opened it.
        public var circuitLastError: String? = nil

        /// `rate 50/s, burst 10, global 20, per key 2` for the stored limits; `-` when none is stored (the nodes'
        /// config files decide).
        public var storedLimitsSummary: String {
            var parts: [String] = []
            if let rate { parts.append("rate \((try? CallRate(perSecond: rate))?.description ?? "\(rate)/s")") }
            if let burst { parts.append("burst \(burst)") }
            if let globalConcurrency { parts.append("global \(globalConcurrency)") }
            if let keyConcurrency { parts.append("per key \(keyConcurrency)") }
            return parts.isEmpty ? "-" : parts.joined(separator: ", ")
        }

        /// `open until 2026-12-03T12:00:30Z (25 failures; opened 2 times)`, `half-open: probing (…)`, `closed (3
        /// failures in a row; …)`; `-` for a circuit that never counted a failure.
        public var circuitSummary: String {
            let opened = "opened \(circuitTimesOpened) time\(circuitTimesOpened == 1 ? "" : "s")"
            switch circuitState {
            case .open: return "open until \(circuitRetryAt.map { $0.formatted(.iso8601) } ?? "?") (\(circuitFailures) failures; \(opened))"
            case .halfOpen: return "half-open: probing (\(opened))"
            case .closed:
                if circuitTimesOpened == 0 && circuitFailures == 0 { return "-" }
                return "closed (\(circuitFailures) failures in a row; \(opened))"
            }
        }

        /// `paused`, `circuit open`, `circuit half-open` or `running`.
        public var state: String {
            if paused { return "paused" }
            switch circuitState {
            case .open: return "circuit open"
            case .halfOpen: return "circuit half-open"
            case .closed: return "running"
            }
        }
    }

    /// A change of a target's stored limits (`asynctask targets set`): the values given replace the stored ones;
    /// `clear` first removes every stored limit, so the nodes' config files decide again.
    public struct LimitChange: Sendable, Hashable {
        /// `--rate`.
        public var rate: CallRate?
        /// `--burst` (0 or more).
        public var burst: Int?
        /// `--global-concurrency` (1 or more).
        public var globalConcurrency: Int?
        /// `--key-concurrency` (1 or more).
        public var keyConcurrency: Int?
        /// `--clear`.
        public var clear: Bool

        /// Creates a change.
        public init(rate: CallRate? = nil, burst: Int? = nil, globalConcurrency: Int? = nil, keyConcurrency: Int? = nil, clear: Bool = false) {
            self.rate = rate
            self.burst = burst
            self.globalConcurrency = globalConcurrency
            self.keyConcurrency = keyConcurrency
            self.clear = clear
        }

        /// Checks the values.
        /// - Throws: `TargetControlError.invalidLimit` naming the first bad value.
        public func validate() throws(TargetControlError) {
            if let burst, burst < 0 { throw .invalidLimit(field: "burst", reason: "must be 0 or more (got \(burst))") }
            if let globalConcurrency, globalConcurrency < 1 {
                throw .invalidLimit(field: "global_concurrency", reason: "must be at least 1 (got \(globalConcurrency))")
            }
            if let keyConcurrency, keyConcurrency < 1 {
                throw .invalidLimit(field: "key_concurrency", reason: "must be at least 1 (got \(keyConcurrency))")
            }
            if rate == nil, burst == nil, globalConcurrency == nil, keyConcurrency == nil, !clear {
                throw .invalidLimit(
                    field: "limits", reason: "nothing to set: give --rate, --burst, --global-concurrency, --key-concurrency or --clear")
            }
        }
    }

    /// An ordering key whose failed head holds it (`ordering.on_failure: block`): the rest of the key waits until an
    /// operator retries the head (`asynctask attempts retry ID`) or unblocks the key (`asynctask targets unblock`).
    public struct BlockedKey: Sendable, Hashable, Codable {
        /// The target.
        public var target: String
        /// The ordering key.
        public var orderingKey: String
        /// The failed attempt that holds the key.
        public var headID: Int64
        /// When it failed.
        public var failedAt: Date?
        /// Its last error.
        public var lastError: String?
        /// The key's pending attempts waiting behind it.
        public var waiting: Int
    }

    /// Heartbeats older than this make a node not live (the workers' `node.dead_after`).
    public let deadAfter: Duration

    /// Creates the controls with the dead-after limit that decides which nodes are live.
    public init(deadAfter: Duration = LiveNodes.defaultDeadAfter) {
        self.deadAfter = deadAfter
    }

    // Every target anyone can mean: served by a live node, with pending attempts (a loose index scan over the
    // claim index, which leads with target), or with a control row. Counts come from the claim index too;
    // the observed rate from the finished index and the pending rows' last errors.
    static let list = PostgresStatement(
        name: "target_controls_list",
        sql: """
            WITH RECURSIVE pending_targets(t) AS (
                SELECT min(target) FROM async_task_attempts WHERE status = 'pending'
                UNION ALL
                SELECT (SELECT min(a.target) FROM async_task_attempts a WHERE a.status = 'pending' AND a.target > p.t)
                FROM pending_targets p WHERE p.t IS NOT NULL
            ), live AS (
                SELECT n.targets FROM async_task_nodes n
                WHERE \(LiveNodes.condition("n", deadAfterMilliseconds: "$1").sql)
            ), names AS (
                SELECT t FROM pending_targets WHERE t IS NOT NULL
                UNION SELECT unnest(targets) FROM live
                UNION SELECT target FROM async_task_targets
            )
            SELECT names.t AS target, coalesce(s.paused, false) AS paused, s.paused_at, s.paused_by,
                   s.rate_per_second, s.burst, s.global_concurrency, s.limits_set_by, s.key_concurrency,
                   coalesce(s.circuit_state, 'closed') AS circuit_state, s.circuit_changed_at, s.circuit_retry_at,
                   coalesce(s.circuit_failures, 0) AS circuit_failures, coalesce(s.circuit_opened, 0) AS circuit_opened,
                   s.circuit_last_error,
                   (SELECT count(*) FROM async_task_attempts b WHERE b.key_blocked AND b.target = names.t) AS blocked_keys,
                   (SELECT count(*) FROM live WHERE names.t = ANY(live.targets)) AS served_by,
                   c.pending, c.due, c.in_flight,
                   ((SELECT count(*) FROM async_task_attempts f
                     WHERE f.status <> 'pending' AND f.completed_at > now() - interval '1 minute' AND f.target = names.t)
                    + c.errors)::float8 / 60 AS calls_per_second
            FROM names
            LEFT JOIN async_task_targets s ON s.target = names.t
            CROSS JOIN LATERAL (
                SELECT count(*) AS pending,
                       count(*) FILTER (WHERE a.available_at <= now()) AS due,
                       count(*) FILTER (WHERE a.locked_by IS NOT NULL AND a.available_at > now()) AS in_flight,
                       count(*) FILTER (WHERE a.last_error_at > now() - interval '1 minute') AS errors
                FROM async_task_attempts a WHERE a.status = 'pending' AND a.target = names.t
            ) c
            WHERE $2::text IS NULL OR names.t = $2
            ORDER BY names.t
            """)

    static let pause = PostgresStatement(
        name: "target_controls_pause",
        sql: """
            INSERT INTO async_task_targets (target, paused, paused_at, paused_by, updated_at)
            VALUES ($1, true, now(), $2, now())
            ON CONFLICT (target) DO UPDATE
            SET paused = true, paused_at = CASE WHEN async_task_targets.paused THEN async_task_targets.paused_at ELSE now() END,
                paused_by = CASE WHEN async_task_targets.paused THEN async_task_targets.paused_by ELSE excluded.paused_by END,
                updated_at = now()
            """)

    // A resume also announces work on the insert channel, so idle nodes claim the target at once instead of at
    // their next poll.
    static let resume = PostgresStatement(
        name: "target_controls_resume",
        sql: """
            WITH resumed AS (
                UPDATE async_task_targets SET paused = false, paused_at = NULL, paused_by = NULL, updated_at = now()
                WHERE target = $1 AND paused
                RETURNING target
            )
            SELECT count(*) AS resumed, pg_notify('\(Schema.notifyChannel)', '') IS NULL AS notified FROM resumed
            """)

    // $5: clear every stored limit before the given ones apply. A change announces work on the insert channel:
    // a raised limit lets idle nodes claim at once.
    static let setLimits = PostgresStatement(
        name: "target_controls_set_limits",
        sql: """
            WITH changed AS (
                INSERT INTO async_task_targets AS s (target, rate_per_second, burst, global_concurrency, key_concurrency, limits_set_by, updated_at)
                VALUES ($1, $2, $3, $4, $7, $6, now())
                ON CONFLICT (target) DO UPDATE
                SET rate_per_second = coalesce(excluded.rate_per_second, CASE WHEN $5 THEN NULL ELSE s.rate_per_second END),
                    burst = coalesce(excluded.burst, CASE WHEN $5 THEN NULL ELSE s.burst END),
                    global_concurrency = coalesce(excluded.global_concurrency, CASE WHEN $5 THEN NULL ELSE s.global_concurrency END),
                    key_concurrency = coalesce(excluded.key_concurrency, CASE WHEN $5 THEN NULL ELSE s.key_concurrency END),
                    limits_set_by = excluded.limits_set_by, updated_at = now()
                RETURNING target
            )
            SELECT count(*) AS changed, pg_notify('\(Schema.notifyChannel)', '') IS NULL AS notified FROM changed
            """)

    // Through async_task_attempts_blocked_key_idx (only blocked heads) and, for the waiting count, the pending
    // ordering index.
    static let blocked = PostgresStatement(
        name: "target_controls_blocked_keys",
        sql: """
            SELECT b.target, b.ordering_key, b.id, b.completed_at, b.last_error,
                   (SELECT count(*) FROM async_task_attempts w
                    WHERE w.target = b.target AND w.ordering_key = b.ordering_key AND w.status = 'pending'
                      AND w.ordering_key IS NOT NULL) AS waiting
            FROM async_task_attempts b
            WHERE b.key_blocked AND ($1::text IS NULL OR b.target = $1)
            ORDER BY b.target, b.ordering_key, b.id
            LIMIT $2
            """)

    // The head stays failed; the key's next attempt becomes claimable, and idle nodes hear of it at once.
    static let unblock = PostgresStatement(
        name: "target_controls_unblock",
        sql: """
            WITH unblocked AS (
                UPDATE async_task_attempts SET key_blocked = false, updated_at = now()
                WHERE key_blocked AND target = $1 AND ordering_key = $2
                RETURNING id
            )
            SELECT id, pg_notify('\(Schema.notifyChannel)', '') IS NULL AS notified FROM unblocked
            """)

    static let controlRows = PostgresStatement(
        name: "target_controls_rows", sql: "SELECT target, paused FROM async_task_targets ORDER BY target")

    /// Whether each target with a control row is paused now (one small read, for the metrics).
    /// - Throws: `PostgresError`.
    public func pausedStates(on connection: PostgresConnection) async throws(PostgresError) -> [String: Bool] {
        var states: [String: Bool] = [:]
        for row in try await connection.query(Self.controlRows) {
            states[try row.decode(String.self, "target")] = try row.decode(Bool.self, "paused")
        }
        return states
    }

    /// Every known target, sorted by name.
    /// - Throws: `PostgresError`.
    public func list(on connection: PostgresConnection) async throws(PostgresError) -> [TargetInfo] {
        try await rows(named: nil, on: connection)
    }

    /// One target, or nil when no one knows it (no live node serves it, nothing is pending, no control row).
    /// - Throws: `PostgresError`.
    public func target(_ name: String, on connection: PostgresConnection) async throws(PostgresError) -> TargetInfo? {
        try await rows(named: name, on: connection).first
    }

    /// Pauses `name` cluster-wide (again: keeps the first pause's time and author); returns the target after.
    /// - Throws: `TargetControlError.unknownTarget` for a target no one knows (nothing is written), or
    ///   `PostgresError`.
    public func pause(_ name: String, by author: String?, on connection: PostgresConnection) async throws -> TargetInfo {
        try await requireKnown(name, on: connection)
        try await connection.query(Self.pause, [name, author])
        return try await requireKnown(name, on: connection)
    }

    /// Resumes `name` (a no-op when it was not paused); returns the target after.
    /// - Throws: `TargetControlError.unknownTarget`, or `PostgresError`.
    public func resume(_ name: String, on connection: PostgresConnection) async throws -> TargetInfo {
        try await requireKnown(name, on: connection)
        try await connection.query(Self.resume, [name])
        return try await requireKnown(name, on: connection)
    }

    /// Stores limits for `name` that every node applies within one heartbeat, in place of its config file's,
    /// until cleared; returns the target after.
    /// - Throws: `TargetControlError.invalidLimit` or `.unknownTarget` (nothing is written), or `PostgresError`.
    public func setLimits(_ name: String, _ change: LimitChange, by author: String?, on connection: PostgresConnection) async throws
        -> TargetInfo
    {
        try change.validate()
        try await requireKnown(name, on: connection)
        try await connection.query(
            Self.setLimits,
            [
                name, change.rate?.perSecond, change.burst.map(Int32.init(clamping:)),
                change.globalConcurrency.map(Int32.init(clamping:)), change.clear, author, change.keyConcurrency.map(Int32.init(clamping:)),
            ])
        return try await requireKnown(name, on: connection)
    }

    /// The blocked ordering keys, of one target or all, oldest key first within a target; at most `limit`.
    /// - Throws: `PostgresError`.
    public func blockedKeys(of target: String? = nil, limit: Int = 100, on connection: PostgresConnection) async throws(PostgresError)
        -> [BlockedKey]
    {
        try await connection.query(Self.blocked, [target, limit]).map { row throws(PostgresError) in
            BlockedKey(
                target: try row.decode(String.self, "target"), orderingKey: try row.decode(String.self, "ordering_key"),
                headID: try row.decode(Int64.self, "id"), failedAt: try row.decode(Date?.self, "completed_at"),
                lastError: try row.decode(String?.self, "last_error"), waiting: try row.decode(Int.self, "waiting"))
        }
    }

    /// Lets a blocked ordering key move on: its failed head stays failed and the key's next attempt runs.
    /// - Returns: the id of the head that held the key.
    /// - Throws: `TargetControlError.notBlocked` when the key is not blocked (nothing changes), or `PostgresError`.
    @discardableResult
    public func unblock(_ target: String, key: String, on connection: PostgresConnection) async throws -> Int64 {
        guard let row = try await connection.query(Self.unblock, [target, key]).first else {
            throw TargetControlError.notBlocked(
                target: target, key: key, blocked: try await blockedKeys(of: target, limit: 10, on: connection).map(\.orderingKey))
        }
        return try row.decode(Int64.self, "id")
    }

    @discardableResult
    private func requireKnown(_ name: String, on connection: PostgresConnection) async throws -> TargetInfo {
        if let info = try await target(name, on: connection) { return info }
        throw TargetControlError.unknownTarget(name: name, known: try await list(on: connection).map(\.name))
    }

    private func rows(named name: String?, on connection: PostgresConnection) async throws(PostgresError) -> [TargetInfo] {
        try await connection.query(Self.list, [deadAfter.milliseconds, name]).map { row throws(PostgresError) in
            let circuitText = try row.decode(String.self, "circuit_state")
            guard let circuitState = CircuitState(rawValue: circuitText) else {
                throw PostgresError(code: .decoding, message: "column 'circuit_state' holds unknown state '\(circuitText)'")
            }
            return TargetInfo(
                name: try row.decode(String.self, "target"), paused: try row.decode(Bool.self, "paused"),
                pausedAt: try row.decode(Date?.self, "paused_at"), pausedBy: try row.decode(String?.self, "paused_by"),
                servedBy: try row.decode(Int.self, "served_by"), pending: try row.decode(Int.self, "pending"),
                due: try row.decode(Int.self, "due"), inFlight: try row.decode(Int.self, "in_flight"),
                callsPerSecond: try row.decode(Double.self, "calls_per_second"), rate: try row.decode(Double?.self, "rate_per_second"),
                burst: try row.decode(Int?.self, "burst"), globalConcurrency: try row.decode(Int?.self, "global_concurrency"),
                limitsSetBy: try row.decode(String?.self, "limits_set_by"), blockedKeys: try row.decode(Int.self, "blocked_keys"),
                keyConcurrency: try row.decode(Int?.self, "key_concurrency"), circuitState: circuitState,
                circuitChangedAt: try row.decode(Date?.self, "circuit_changed_at"), circuitRetryAt: try row.decode(Date?.self, "circuit_retry_at"),
                circuitFailures: try row.decode(Int.self, "circuit_failures"), circuitTimesOpened: try row.decode(Int.self, "circuit_opened"),
                circuitLastError: try row.decode(String?.self, "circuit_last_error"))
        }
    }
}
