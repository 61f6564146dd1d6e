import AsyncTaskCore
import Foundation
public import PostgresClient

/// The read side of operating attempts: list and count by `AttemptFilter`, newest first.
///
/// One copy of these queries serves the CLI and the admin API. Arguments are never selected beyond what
/// `AttemptRecord` holds, and the views built from records leave them out.
public struct AttemptQueries: Sendable {
    /// Heartbeats older than this make a node not live (`LiveNodes`): only live nodes' target defaults
    /// (`NodeTargetDefaults`) give an attempt its limit before its first try.
    public let deadAfter: Duration

    /// Creates the queries; `deadAfter` as `nodes` and `doctor` take it.
    public init(deadAfter: Duration = LiveNodes.defaultDeadAfter) {
        self.deadAfter = deadAfter
    }

    // The filter's criteria as one condition: only the criteria that are set, each value a bind, so the
    // planner sees each query's real shape (run unprepared: a custom plan each time, which an optional-criteria
    // query needs; operators' queries are rare enough that the parse costs nothing). Listing walks the primary
    // key backwards, so the newest come first and a page is `beforeID` = the last id seen. The phases are the
    // claim's own conditions: a live lease is `locked_by` set with `available_at` ahead.
    static func condition(_ filter: AttemptFilter) -> PostgresQuery {
        var criteria: [PostgresQuery] = []
        if let statuses = filter.statuses, !statuses.isEmpty {
            criteria.append("status = ANY(\(statuses.map(\.rawValue))::text[])")
        }
        if let target = filter.target { criteria.append("target = \(target)::text") }
        if let method = filter.method { criteria.append("method_name = \(method)::text") }
        if let since = filter.since { criteria.append("created_at >= \(since)") }
        if let beforeID = filter.beforeID { criteria.append("id < \(beforeID)") }
        if let phase = filter.phase {
            let condition: PostgresQuery =
                switch phase {
                case .scheduled: "num_attempts = 0 AND available_at > now() AND available_at <> 'infinity'"
                case .retrying: "num_attempts > 0 AND locked_by IS NULL AND available_at <> 'infinity'"
                case .running: "locked_by IS NOT NULL AND available_at > now()"
                case .waiting: "locked_by IS NULL AND available_at = 'infinity'"
                }
            criteria.append("status = \(AttemptStatus.pending.rawValue)::text AND \(condition)")
        }
        if !filter.matchesInternal { criteria.append("left(target, 1) <> \(Schema.internalTargetPrefix)::text") }
        return criteria.isEmpty ? "TRUE" : PostgresQuery.joined(criteria.map { "(\($0))" }, separator: " AND ")
    }

    static func list(_ filter: AttemptFilter, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: AttemptRecord.columns) FROM async_task_attempts
        WHERE \(condition(filter))
        ORDER BY id DESC
        LIMIT \(Int64(max(0, limit)))
        """
    }

    // What an operator's view of an attempt reads beside the record: the error's kind and response excerpt, the
    // limit its newest try recorded (jsonpath over the kept tries, no JSON parsed in Swift) and the defaults the
    // live nodes serving its target published. The defaults come from a small CTE (one row per target),
    // materialised so that it is computed once, not per attempt listed.
    static func viewQuery(where condition: PostgresQuery, orderAndLimit: PostgresQuery, deadAfter: Duration) -> PostgresQuery {
        """
        WITH node_defaults AS MATERIALIZED (\(NodeTargetDefaults.liveMaxAttempts(deadAfterMilliseconds: "\(deadAfter.milliseconds)")))
        SELECT \(unsafeSQL: AttemptRecord.columns), last_error_kind, last_response_excerpt,
               (jsonb_path_query_array(a.tries, '$[*].max_attempts ? (@.type() == "number")') ->> -1)::integer AS tried_max_attempts,
               (SELECT d.max_attempts FROM node_defaults d WHERE d.target = a.target) AS target_max_attempts
        FROM async_task_attempts a
        WHERE \(condition)
        \(orderAndLimit)
        """
    }

    // The listing operators read.
    static func listViews(_ filter: AttemptFilter, limit: Int, deadAfter: Duration) -> PostgresQuery {
        viewQuery(where: condition(filter), orderAndLimit: "ORDER BY a.id DESC LIMIT \(Int64(max(0, limit)))", deadAfter: deadAfter)
    }

    // One attempt as operators read it.
    static func detail(_ id: Int64, deadAfter: Duration) -> PostgresQuery {
        viewQuery(where: "a.id = \(id)", orderAndLimit: "", deadAfter: deadAfter)
    }

    static func count(_ filter: AttemptFilter) -> PostgresQuery {
        "SELECT count(*) AS n FROM async_task_attempts WHERE \(condition(filter))"
    }

    // Ascending ids above a cursor, for walking a filter in batches (bulk actions).
    static func ids(_ filter: AttemptFilter, after cursor: Int64, limit: Int) -> PostgresQuery {
        """
        SELECT id FROM async_task_attempts
        WHERE \(condition(filter)) AND id > \(cursor)
        ORDER BY id
        LIMIT \(Int64(limit))
        """
    }

    static let tries = PostgresStatement(
        name: "attempt_tries",
        sql: """
            SELECT t.* FROM async_task_attempts a CROSS JOIN LATERAL \(AttemptTry.recordset)
            WHERE a.id = $1
            ORDER BY t."try"
            """)

    /// Attempts matching `filter`, newest first, at most `limit`.
    /// - Throws: `PostgresError`.
    public func list(_ filter: AttemptFilter, limit: Int = 50, on connection: PostgresConnection) async throws(PostgresError) -> [AttemptRecord] {
        try await connection.query(Self.list(filter, limit: limit), named: "list_attempts").map { row throws(PostgresError) in
            try AttemptRecord(row: row)
        }
    }

    /// Attempts matching `filter` as operators see them (with the error's kind and excerpt), newest first.
    /// - Throws: `PostgresError`.
    public func views(_ filter: AttemptFilter, limit: Int = 50, on connection: PostgresConnection) async throws(PostgresError) -> [AttemptView] {
        try await connection.query(Self.listViews(filter, limit: limit, deadAfter: deadAfter), named: "list_attempt_views").map {
            row throws(PostgresError) in
            try Self.view(row)
        }
    }

    /// One attempt with its try history, or nil when no attempt has this id.
    /// - Throws: `PostgresError`.
    public func detail(_ id: Int64, on connection: PostgresConnection) async throws(PostgresError) -> AttemptView? {
        guard let row = try await connection.query(Self.detail(id, deadAfter: deadAfter), named: "attempt_detail", prepared: true).first else {
            return nil
        }
        let tries = try await connection.query(Self.tries, [id]).map { row throws(PostgresError) in try AttemptTry(row: row) }
        return try Self.view(row, tries: tries)
    }

    static func view(_ row: PostgresRow, tries: [AttemptTry]? = nil) throws(PostgresError) -> AttemptView {
        AttemptView(
            try AttemptRecord(row: row), errorKind: try row.decode(String?.self, "last_error_kind"),
            responseExcerpt: try row.decode(String?.self, "last_response_excerpt"), tries: tries,
            triedMaxAttempts: try row.decode(Int?.self, "tried_max_attempts"),
            targetMaxAttempts: try row.decode([Int]?.self, "target_max_attempts") ?? [])
    }

    /// How many attempts match `filter`.
    public func count(_ filter: AttemptFilter, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await connection.query(Self.count(filter), named: "count_attempts").single().decode(Int.self, "n")
    }

    /// Up to `limit` ids matching `filter` above `cursor`, ascending.
    public func ids(_ filter: AttemptFilter, after cursor: Int64, limit: Int, on connection: PostgresConnection) async throws(PostgresError)
        -> [Int64]
    {
        try await connection.query(Self.ids(filter, after: cursor, limit: limit), named: "attempt_ids_after").map { row throws(PostgresError) in
            try row.decode(Int64.self, "id")
        }
    }
}
