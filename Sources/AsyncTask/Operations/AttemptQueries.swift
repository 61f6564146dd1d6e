import AsyncTaskCore
import Foundation
public import PostgresClient

/// The read side of operating attempts: list and count by `AttemptFilter`, newest first.
///
/// One copy of these queries serves the CLI and the admin API. Arguments are never selected beyond what
/// `AttemptRecord` holds, and the views built from records leave them out.
public struct AttemptQueries: Sendable {
    /// Creates the queries.
    public init() {}

    // Every criterion is a bind that may be NULL ("no criterion"); $1 statuses, $2 target, $3 method,
    // $4 created since, $5 ids below, $6 pending phase, $7 whether internal targets ('@webhook') match. Listing
    // walks the primary key backwards, so the newest come first and a page is `beforeID` = the last id seen.
    // The phases are the claim's own conditions: a live lease is `locked_by` set with `available_at` ahead.
    static let filterClause = """
        ($1::text[] IS NULL OR status = ANY($1::text[]))
        AND ($2::text IS NULL OR target = $2::text)
        AND ($3::text IS NULL OR method_name = $3::text)
        AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
        AND ($5::bigint IS NULL OR id < $5::bigint)
        AND ($6::text IS NULL OR (status = 'pending' AND CASE $6::text
                WHEN 'scheduled' THEN num_attempts = 0 AND available_at > now()
                WHEN 'retrying' THEN num_attempts > 0 AND locked_by IS NULL
                WHEN 'running' THEN locked_by IS NOT NULL AND available_at > now()
            END))
        AND ($7::boolean OR left(target, 1) <> '@')
        """

    static let list = PostgresStatement(name: "list_attempts", sql: """
        SELECT \(AttemptRecord.columns) FROM async_task_attempts
        WHERE \(filterClause)
        ORDER BY id DESC
        LIMIT $8
        """)

    // The listing operators read: the record plus the error's kind and response excerpt.
    static let listViews = PostgresStatement(name: "list_attempt_views", sql: """
        SELECT \(AttemptRecord.columns), last_error_kind, last_response_excerpt FROM async_task_attempts
        WHERE \(filterClause)
        ORDER BY id DESC
        LIMIT $8
        """)

    static let count = PostgresStatement(name: "count_attempts", sql: """
        SELECT count(*) AS n FROM async_task_attempts WHERE \(filterClause)
        """)

    // Ascending ids above a cursor, for walking a filter in batches (bulk actions).
    static let idsAfter = PostgresStatement(name: "attempt_ids_after", sql: """
        SELECT id FROM async_task_attempts
        WHERE \(filterClause) AND id > $8
        ORDER BY id
        LIMIT $9
        """)

    static let detail = PostgresStatement(name: "attempt_detail", sql: """
        SELECT \(AttemptRecord.columns), last_error_kind, last_response_excerpt FROM async_task_attempts WHERE id = $1
        """)

    static let tries = PostgresStatement(name: "attempt_tries", sql: """
        SELECT t.* FROM async_task_attempts a CROSS JOIN LATERAL \(AttemptTry.recordset)
        WHERE a.id = $1
        ORDER BY t."try"
        """)

    /// The filter's binds, $1…$7.
    static func binds(_ filter: AttemptFilter) -> [any PostgresEncodable] {
        let statuses: [String]? = filter.statuses.flatMap { $0.isEmpty ? nil : $0.map(\.rawValue) }
        return [statuses, filter.target, filter.method, filter.since, filter.beforeID, filter.phase?.rawValue, filter.matchesInternal]
    }

    /// Attempts matching `filter`, newest first, at most `limit`.
    /// - Throws: `PostgresError`.
    public func list(_ filter: AttemptFilter, limit: Int = 50, on connection: PostgresConnection) async throws(PostgresError) -> [AttemptRecord] {
        try await connection.query(Self.list, Self.binds(filter) + [Int64(max(0, limit))]).map { row throws(PostgresError) in
            try AttemptRecord(row: row)
        }
    }

    /// Attempts matching `filter` as operators see them (with the error's kind and excerpt), newest first.
    /// - Throws: `PostgresError`.
    public func views(_ filter: AttemptFilter, limit: Int = 50, on connection: PostgresConnection) async throws(PostgresError) -> [AttemptView] {
        try await connection.query(Self.listViews, Self.binds(filter) + [Int64(max(0, limit))]).map { row throws(PostgresError) in
            try Self.view(row)
        }
    }

    /// One attempt with its try history, or nil when no attempt has this id.
    /// - Throws: `PostgresError`.
    public func detail(_ id: Int64, on connection: PostgresConnection) async throws(PostgresError) -> AttemptView? {
        guard let row = try await connection.query(Self.detail, [id]).first else { return nil }
        let tries = try await connection.query(Self.tries, [id]).map { row throws(PostgresError) in try AttemptTry(row: row) }
        return try Self.view(row, tries: tries)
    }

    static func view(_ row: PostgresRow, tries: [AttemptTry]? = nil) throws(PostgresError) -> AttemptView {
        AttemptView(
            try AttemptRecord(row: row), errorKind: try row.decode(String?.self, "last_error_kind"),
            responseExcerpt: try row.decode(String?.self, "last_response_excerpt"), tries: tries)
    }

    /// How many attempts match `filter`.
    public func count(_ filter: AttemptFilter, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await connection.query(Self.count, Self.binds(filter)).single().decode(Int.self, "n")
    }

    /// Up to `limit` ids matching `filter` above `cursor`, ascending.
    public func ids(_ filter: AttemptFilter, after cursor: Int64, limit: Int, on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        try await connection.query(Self.idsAfter, Self.binds(filter) + [cursor, Int64(limit)]).map { row throws(PostgresError) in
            try row.decode(Int64.self, "id")
        }
    }
}
