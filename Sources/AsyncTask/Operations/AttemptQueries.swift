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
    // $4 created since, $5 ids below. Listing walks the primary key backwards, so the newest come first and a
    // page is `beforeID` = the last id seen.
    static let filterClause = """
        ($1::text[] IS NULL OR status = ANY($1::text[]))
        AND ($2::text IS NULL OR target = $2::text)
        AND ($3::text IS NULL OR method_name = $3::text)
        AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
        AND ($5::bigint IS NULL OR id < $5::bigint)
        """

    static let list = PostgresStatement(name: "list_attempts", sql: """
        SELECT \(AttemptRecord.columns) FROM async_task_attempts
        WHERE \(filterClause)
        ORDER BY id DESC
        LIMIT $6
        """)

    static let count = PostgresStatement(name: "count_attempts", sql: """
        SELECT count(*) AS n FROM async_task_attempts WHERE \(filterClause)
        """)

    // Ascending ids above a cursor, for walking a filter in batches (bulk actions).
    static let idsAfter = PostgresStatement(name: "attempt_ids_after", sql: """
        SELECT id FROM async_task_attempts
        WHERE \(filterClause) AND id > $6
        ORDER BY id
        LIMIT $7
        """)

    /// The filter's binds, $1…$5.
    static func binds(_ filter: AttemptFilter) -> [any PostgresEncodable] {
        let statuses: [String]? = filter.statuses.flatMap { $0.isEmpty ? nil : $0.map(\.rawValue) }
        return [statuses, filter.target, filter.method, filter.since, filter.beforeID]
    }

    /// Attempts matching `filter`, newest first, at most `limit`.
    /// - Throws: `PostgresError`.
    public func list(_ filter: AttemptFilter, limit: Int = 50, on connection: PostgresConnection) async throws(PostgresError) -> [AttemptRecord] {
        try await connection.query(Self.list, Self.binds(filter) + [Int64(max(0, limit))]).map { row throws(PostgresError) in
            try AttemptRecord(row: row)
        }
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
