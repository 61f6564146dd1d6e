import AsyncTaskCore
import Foundation
public import PostgresClient

/// Operator actions on attempts, by the rules of `AttemptAction`'s transition table.
///
/// Each action is one conditional UPDATE by an id array, the same statement for one attempt and for a bulk
/// batch (`BulkAttemptActions`), so it is atomic against workers: a worker's fenced write after an operator's
/// expire/fail finds the lease cleared and is rejected. The statuses it applies to and the status it leaves
/// are binds taken from the table, never spelled in the SQL.
public struct AttemptActions: Sendable {
    /// Creates the actions.
    public init() {}

    // $1 ids, $2 the statuses the action applies to, $3 the status it leaves (both from the transition table).
    // Clearing locked_by voids a running worker's lease: its fenced outcome write then matches no row.
    static let expire = PostgresStatement(
        name: "expire_attempts",
        sql: """
            UPDATE async_task_attempts
            SET status = $3::text, completed_at = now(), updated_at = now(), locked_by = NULL
            WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[])
            RETURNING \(AttemptRecord.columns)
            """)

    // $4 the reason, recorded as the last error when given.
    static let fail = PostgresStatement(
        name: "fail_attempts",
        sql: """
            UPDATE async_task_attempts
            SET status = $3::text, completed_at = now(), updated_at = now(), locked_by = NULL,
                last_error = coalesce($4::text, last_error), last_error_at = CASE WHEN $4::text IS NULL THEN last_error_at ELSE now() END
            WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[])
            RETURNING \(AttemptRecord.columns)
            """)

    // num_attempts stays (it is the lease fencing token and must only grow); max_attempts is raised so the
    // retried attempt gets `$4` more tries whatever it used up before, and its max_retry_duration counts afresh
    // from its next try (first_tried_at cleared). A failed head that blocked its ordering key holds it again as
    // pending (key_blocked cleared), so it runs before the rest of its key. A keyed attempt retried while a later
    // attempt of its key is in flight waits parked (schema v9) until that call's lease ends, then runs next.
    static let retry = PostgresStatement(
        name: "retry_attempts",
        sql: """
            UPDATE async_task_attempts r
            SET status = $3::text, completed_at = NULL, updated_at = now(), locked_by = NULL, first_tried_at = NULL,
                available_at = CASE WHEN r.ordering_key IS NOT NULL AND EXISTS (
                    SELECT 1 FROM async_task_attempts k
                    WHERE k.target = r.target AND k.ordering_key = r.ordering_key AND k.status = '\(AttemptStatus.pending)'
                      AND k.ordering_key IS NOT NULL AND k.locked_by IS NOT NULL) THEN 'infinity'::timestamptz ELSE now() END,
                key_blocked = false,
                max_attempts = CASE WHEN $4::integer IS NULL THEN r.max_attempts ELSE r.num_attempts + $4::integer END
            WHERE r.id = ANY($1::bigint[]) AND r.status = ANY($2::text[])
            RETURNING \(AttemptRecord.columns)
            """)

    static let find = PostgresStatement(
        name: "find_attempt",
        sql: """
            SELECT \(AttemptRecord.columns) FROM async_task_attempts WHERE id = $1
            """)

    /// Marks a pending attempt expired: it will not run.
    /// - Throws: `AttemptActionError` (`.notFound`, `.invalidState` with the current status) or `PostgresError`.
    @discardableResult
    public func expire(_ id: Int64, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await apply(.expire, to: id, on: connection)
    }

    /// Marks a pending attempt failed, with an optional reason recorded as its last error.
    /// - Throws: `AttemptActionError` or `PostgresError`.
    @discardableResult
    public func fail(_ id: Int64, reason: String? = nil, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await apply(.fail(reason: reason), to: id, on: connection)
    }

    /// Puts a failed or expired attempt back to pending, runnable now.
    /// - Parameter extraTries: how many more tries it gets from here (default 1); nil keeps its `max_attempts`.
    /// - Throws: `AttemptActionError` or `PostgresError`.
    @discardableResult
    public func retry(_ id: Int64, extraTries: Int? = 1, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await apply(.retry(extraTries: extraTries), to: id, on: connection)
    }

    /// Applies `request` to one attempt and returns it as changed.
    /// - Throws: `AttemptActionError` (`.notFound`, `.invalidState` with the current status) or `PostgresError`.
    @discardableResult
    public func apply(_ request: AttemptActionRequest, to id: Int64, on connection: PostgresConnection) async throws -> AttemptRecord {
        if let record = try await update(request, ids: [id], on: connection).first { return record }
        guard let current = try await find(id, on: connection) else {
            throw AttemptActionError.notFound(id: id)
        }
        throw AttemptActionError.invalidState(id: id, action: request.action, status: current.status)
    }

    /// Reads one attempt.
    public func find(_ id: Int64, on connection: PostgresConnection) async throws(PostgresError) -> AttemptRecord? {
        try await connection.query(Self.find, [id]).first.map { row throws(PostgresError) in try AttemptRecord(row: row) }
    }

    /// The action's one UPDATE of `ids`: the attempts among them in a status it applies to, as changed.
    func update(_ request: AttemptActionRequest, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> [AttemptRecord] {
        let transition = request.action.transition
        var binds: [any PostgresEncodable] = [ids, transition.from.map(\.rawValue), transition.to.rawValue]
        let statement: PostgresStatement
        switch request.action {
        case .expire:
            statement = Self.expire
        case .fail:
            statement = Self.fail
            binds.append(request.reason)
        case .retry:
            statement = Self.retry
            binds.append(request.extraTries.map { Int32(clamping: $0) })
        }
        return try await connection.query(statement, binds).map { row throws(PostgresError) in try AttemptRecord(row: row) }
    }
}
