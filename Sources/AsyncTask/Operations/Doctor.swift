import AsyncTaskCore
import Foundation
public import PostgresClient

/// Health checks of a cluster from its database, for `asynctask doctor` and the dashboard.
///
/// Each check yields findings; a finding with severity `problem` or `warning` needs an operator's attention,
/// and `asynctask doctor` then exits non-zero. Checks read only catalog views and the AsyncTask tables.
public struct Doctor: Sendable {
    /// How serious a finding is.
    public enum Severity: String, Sendable, Codable, Comparable {
        /// The check passed.
        case ok
        /// Worth a look (e.g. bloat); work still flows.
        case warning
        /// Work is stuck or will be (unserved targets, dead nodes holding leases, missing migrations).
        case problem

        private var rank: Int {
            switch self {
            case .ok: 0
            case .warning: 1
            case .problem: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// One result of one check.
    public struct Finding: Sendable, Hashable, Codable {
        /// The check's name: `migrations`, `unserved_targets`, `dead_node_leases`, `stuck_leases`, `table_bloat`, `index_bloat`.
        public var check: String
        /// How serious it is.
        public var severity: Severity
        /// What was found, and what to do about it.
        public var message: String
    }

    /// Options of the checks.
    public struct Configuration: Sendable {
        /// Nodes whose heartbeat is older than this count as not live (the worker's `node.dead_after`).
        public var deadAfter: Duration
        /// A lease this far past its end that nobody reclaimed counts as stuck.
        public var stuckAfter: Duration
        /// Dead tuples above this count and above `bloatRatio` of live ones make a table bloated.
        public var bloatMinDeadTuples: Int
        /// Dead to live tuple ratio above which a table counts as bloated.
        public var bloatRatio: Double
        /// Indexes smaller than this are never reported.
        public var indexBloatMinBytes: Int64

        /// Defaults: 10 s dead-after, 60 s stuck, 10 000 dead tuples at 20 %, indexes from 16 MB.
        public init(
            deadAfter: Duration = LiveNodes.defaultDeadAfter, stuckAfter: Duration = .seconds(60), bloatMinDeadTuples: Int = 10_000,
            bloatRatio: Double = 0.2, indexBloatMinBytes: Int64 = 16 << 20
        ) {
            self.deadAfter = deadAfter
            self.stuckAfter = stuckAfter
            self.bloatMinDeadTuples = bloatMinDeadTuples
            self.bloatRatio = bloatRatio
            self.indexBloatMinBytes = indexBloatMinBytes
        }
    }

    /// The checks' options.
    public let configuration: Configuration

    /// Creates a doctor with `configuration`.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    // Due attempts whose target no live node (fresh heartbeat) serves.
    static let unserved = PostgresStatement(
        name: "doctor_unserved_targets",
        sql: """
            SELECT a.target, count(*) AS pending, extract(epoch FROM now() - min(a.available_at))::float8 AS oldest
            FROM async_task_attempts a
            WHERE a.status = 'pending' AND a.available_at <= now()
              AND NOT EXISTS (
                  SELECT 1 FROM async_task_nodes n
                  WHERE \(LiveNodes.condition("n", deadAfterMilliseconds: "$1").sql) AND a.target = ANY(n.targets))
            GROUP BY a.target
            ORDER BY a.target
            """)

    // Leases held by nodes that are dead, stopped, silent, or gone from the nodes table.
    static let deadNodeLeases = PostgresStatement(
        name: "doctor_dead_node_leases",
        sql: """
            SELECT a.locked_by::text AS node, coalesce(n.hostname, '(no node row)') AS hostname,
                   coalesce(n.status, 'missing') AS status, count(*) AS leases
            FROM async_task_attempts a
            LEFT JOIN async_task_nodes n ON n.id = a.locked_by
            WHERE a.status = 'pending' AND a.locked_by IS NOT NULL
              AND (n.id IS NULL OR NOT \(LiveNodes.condition("n", deadAfterMilliseconds: "$1").sql))
            GROUP BY 1, 2, 3
            ORDER BY 4 DESC
            """)

    // A lease ends at available_at; a live node renews it long before. Past its end by stuckAfter means no
    // node renewed or reclaimed it.
    static let stuckLeases = PostgresStatement(
        name: "doctor_stuck_leases",
        sql: """
            SELECT count(*) AS stuck, coalesce(extract(epoch FROM now() - min(available_at)), 0)::float8 AS oldest,
                   coalesce(min(id), 0) AS example
            FROM async_task_attempts
            WHERE status = 'pending' AND locked_by IS NOT NULL AND available_at < now() - $1 * interval '1 millisecond'
            """)

    static let tableBloat = PostgresStatement(
        name: "doctor_table_bloat",
        sql: """
            SELECT relname::text AS name, n_live_tup AS live, n_dead_tup AS dead,
                   coalesce(extract(epoch FROM now() - greatest(last_autovacuum, last_vacuum)), -1)::float8 AS vacuumed_ago
            FROM pg_stat_user_tables
            WHERE relname IN ('async_task_attempts', 'async_task_nodes')
            ORDER BY relname
            """)

    // A heuristic without extensions: an index bigger than its whole table (and than a floor) is bloated, since
    // every AsyncTask index covers fewer, narrower tuples than the heap holds.
    static let indexBloat = PostgresStatement(
        name: "doctor_index_bloat",
        sql: """
            SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid) AS index_bytes,
                   pg_relation_size(i.indrelid) AS table_bytes
            FROM pg_index i
            WHERE i.indrelid IN ('async_task_attempts'::regclass, 'async_task_nodes'::regclass)
              AND pg_relation_size(i.indexrelid) > $1
              AND pg_relation_size(i.indexrelid) > pg_relation_size(i.indrelid)
            ORDER BY 2 DESC
            """)

    /// Runs every check. Schema checks come first; the others are skipped when the tables do not exist yet.
    /// - Throws: `PostgresError` when a check's query fails.
    public func run(on connection: PostgresConnection) async throws -> [Finding] {
        var findings: [Finding] = []
        let status = try await Migrator().status(on: connection)
        let missing = status.filter { $0.appliedAt == nil }
        let unknown = status.filter { $0.name == "(unknown to this build)" }
        if !missing.isEmpty {
            findings.append(
                Finding(
                    check: "migrations", severity: .problem,
                    message: "missing migrations \(missing.map { "\($0.version) (\($0.name))" }.joined(separator: ", ")): run `asynctask migrate`"))
            if missing.count == status.count - unknown.count { return findings }
        } else {
            findings.append(Finding(check: "migrations", severity: .ok, message: "schema is current (version \(status.last?.version ?? 0))"))
        }
        if !unknown.isEmpty {
            findings.append(
                Finding(
                    check: "migrations", severity: .warning,
                    message:
                        "the database has migrations this build does not know (\(unknown.map { String($0.version) }.joined(separator: ", "))): upgrade this asynctask"
                ))
        }
        let deadAfter = configuration.deadAfter.milliseconds

        let unserved = try await connection.query(Self.unserved, [deadAfter])
        let served = unserved.isEmpty ? nil : try await ServedTargets(deadAfter: configuration.deadAfter).snapshot(on: connection)
        for row in unserved {
            let target = try row.decode(String.self, "target")
            // A name close to a served one is most likely a producer's typo or wrong case, not a missing node.
            let hint =
                served.flatMap { NearestName.nearest(to: target, in: $0.targets) }
                .map { "; live nodes serve \($0): did the producer mean \($0)? (target names are case-sensitive)" } ?? ""
            findings.append(
                Finding(
                    check: "unserved_targets", severity: .problem,
                    message:
                        "\(try row.decode(Int.self, "pending")) due attempt(s) for target \(target) (oldest waiting \(Self.age(try row.decode(Double.self, "oldest")))) but no live node serves it: start a node configured with \(target)\(hint)"
                ))
        }
        if unserved.isEmpty {
            findings.append(Finding(check: "unserved_targets", severity: .ok, message: "every target with due work has a live node"))
        }

        let dead = try await connection.query(Self.deadNodeLeases, [deadAfter])
        for row in dead {
            findings.append(
                Finding(
                    check: "dead_node_leases", severity: .problem,
                    message:
                        "node \(try row.decode(String.self, "hostname")) (\(try row.decode(String.self, "node")), \(try row.decode(String.self, "status"))) holds \(try row.decode(Int.self, "leases")) lease(s): a live node releases them within node.dead_after; if none runs, start one"
                ))
        }
        if dead.isEmpty { findings.append(Finding(check: "dead_node_leases", severity: .ok, message: "no dead node holds leases")) }

        let stuck = try await connection.query(Self.stuckLeases, [configuration.stuckAfter.milliseconds]).single()
        let stuckCount = try stuck.decode(Int.self, "stuck")
        if stuckCount > 0 {
            findings.append(
                Finding(
                    check: "stuck_leases", severity: .problem,
                    message:
                        "\(stuckCount) attempt(s) are past the end of their lease by more than \(configuration.stuckAfter) (oldest \(Self.age(try stuck.decode(Double.self, "oldest"))) ago, e.g. attempt \(try stuck.decode(Int64.self, "example"))): no node is reclaiming them"
                ))
        } else {
            findings.append(Finding(check: "stuck_leases", severity: .ok, message: "no attempt is stuck past its lease"))
        }

        // Ordering keys exist from migration 9 on (an older schema was reported above).
        if status.contains(where: { $0.version == 9 && $0.appliedAt != nil }) {
            let blocked = try await TargetControls(deadAfter: configuration.deadAfter).blockedKeys(limit: 20, on: connection)
            for key in blocked {
                findings.append(
                    Finding(
                        check: "blocked_keys", severity: .problem,
                        message:
                            "ordering key \(key.orderingKey) of \(key.target) is blocked by failed attempt \(key.headID) (\(key.waiting) attempt(s) waiting): `asynctask attempts retry \(key.headID)` runs it again, `asynctask targets unblock \(key.target) \(key.orderingKey)` moves on without it"
                    ))
            }
            if blocked.isEmpty { findings.append(Finding(check: "blocked_keys", severity: .ok, message: "no ordering key is blocked")) }
        }

        findings += try await gemRowFindings(on: connection)

        var bloated = false
        for row in try await connection.query(Self.tableBloat) {
            let name = try row.decode(String.self, "name")
            let live = try row.decode(Int.self, "live")
            let deadTuples = try row.decode(Int.self, "dead")
            if deadTuples >= configuration.bloatMinDeadTuples && Double(deadTuples) > configuration.bloatRatio * Double(max(live, 1)) {
                bloated = true
                let vacuumed = try row.decode(Double.self, "vacuumed_ago")
                findings.append(
                    Finding(
                        check: "table_bloat", severity: .warning,
                        message:
                            "\(name) has \(deadTuples) dead rows for \(live) live (last vacuum \(vacuumed < 0 ? "never" : Self.age(vacuumed) + " ago")): check autovacuum (migration 3 tunes it) or run VACUUM \(name)"
                    ))
            }
        }
        for row in try await connection.query(Self.indexBloat, [configuration.indexBloatMinBytes]) {
            bloated = true
            let name = try row.decode(String.self, "name")
            findings.append(
                Finding(
                    check: "index_bloat", severity: .warning,
                    message:
                        "index \(name) is \(Self.bytes(try row.decode(Int64.self, "index_bytes"))), larger than its table (\(Self.bytes(try row.decode(Int64.self, "table_bytes")))): REINDEX INDEX CONCURRENTLY \(name)"
                ))
        }
        if !bloated { findings.append(Finding(check: "bloat", severity: .ok, message: "no table or index bloat found")) }
        return findings
    }

    /// `12s`, `5m 3s`, `2h 10m`.
    static func age(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \(total % 3600 / 60)m"
    }

    static func bytes(_ count: Int64) -> String {
        count >= 1 << 20 ? "\(count >> 20) MB" : "\(count >> 10) kB"
    }
}
