public import AsyncTaskCore
import Foundation
public import PostgresClient

/// Operator actions on attempts, with the seed gem's rules: `expire` and `fail` only from `pending`; `retry`
/// from `failed` or `expired` back to `pending`.
///
/// Each action is one conditional UPDATE, so it is atomic against workers: a worker's fenced write after an
/// operator's expire/fail finds the lease cleared and is rejected.
public struct AttemptActions: Sendable {
    /// Creates the actions.
    public init() {}

    // Clearing locked_by voids a running worker's lease: its fenced outcome write then matches no row.
    static let expire = PostgresStatement(name: "expire_attempt", sql: """
        UPDATE async_task_attempts
        SET status = 'expired', completed_at = now(), updated_at = now(), locked_by = NULL
        WHERE id = $1 AND status = 'pending'
        RETURNING \(AttemptRecord.columns)
        """)

    static let fail = PostgresStatement(name: "fail_attempt", sql: """
        UPDATE async_task_attempts
        SET status = 'failed', completed_at = now(), updated_at = now(), locked_by = NULL,
            last_error = coalesce($2, last_error), last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE now() END
        WHERE id = $1 AND status = 'pending'
        RETURNING \(AttemptRecord.columns)
        """)

    // num_attempts stays (it is the lease fencing token and must only grow); max_attempts is raised so the
    // retried attempt gets `$2` more tries whatever it used up before.
    static let retry = PostgresStatement(name: "retry_attempt", sql: """
        UPDATE async_task_attempts
        SET status = 'pending', completed_at = NULL, updated_at = now(), available_at = now(), locked_by = NULL,
            max_attempts = CASE WHEN $2::integer IS NULL THEN max_attempts ELSE num_attempts + $2::integer END
        WHERE id = $1 AND status IN ('failed', 'expired')
        RETURNING \(AttemptRecord.columns)
        """)

    static let find = PostgresStatement(name: "find_attempt", sql: """
        SELECT \(AttemptRecord.columns) FROM async_task_attempts WHERE id = $1
        """)

    /// Marks a pending attempt expired: it will not run.
    /// - Throws: `AttemptActionError` (`.notFound`, `.invalidState` with the current status) or `PostgresError`.
    @discardableResult
    public func expire(_ id: Int64, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await change(Self.expire, [id], id: id, action: "expire", on: connection)
    }

    /// Marks a pending attempt failed, with an optional reason recorded as its last error.
    @discardableResult
    public func fail(_ id: Int64, reason: String? = nil, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await change(Self.fail, [id, reason], id: id, action: "fail", on: connection)
    }

    /// Puts a failed or expired attempt back to pending, runnable now.
    /// - Parameter extraTries: how many more tries it gets from here (default 1); nil keeps its `max_attempts`.
    @discardableResult
    public func retry(_ id: Int64, extraTries: Int? = 1, on connection: PostgresConnection) async throws -> AttemptRecord {
        try await change(Self.retry, [id, extraTries.map { Int32(clamping: $0) }], id: id, action: "retry", on: connection)
    }

    /// Reads one attempt.
    public func find(_ id: Int64, on connection: PostgresConnection) async throws(PostgresError) -> AttemptRecord? {
        try await connection.query(Self.find, [id]).first.map { row throws(PostgresError) in try AttemptRecord(row: row) }
    }

    private func change(
        _ statement: PostgresStatement, _ binds: [any PostgresEncodable], id: Int64, action: String,
        on connection: PostgresConnection
    ) async throws -> AttemptRecord {
        if let row = try await connection.query(statement, binds).first { return try AttemptRecord(row: row) }
        guard let current = try await find(id, on: connection) else {
            throw AttemptActionError.notFound(id: id)
        }
        throw AttemptActionError.invalidState(id: id, action: action, status: current.status)
    }
}

/// Why an operator action did not apply.
public enum AttemptActionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No attempt has this id.
    case notFound(id: Int64)
    /// The attempt's status does not allow the action (e.g. expiring a succeeded attempt).
    case invalidState(id: Int64, action: String, status: AttemptStatus)

    public var description: String {
        switch self {
        case .notFound(let id):
            "attempt \(id) not found"
        case .invalidState(let id, let action, let status):
            "cannot \(action) attempt \(id): it is \(status) (\(action) applies to \(action == "retry" ? "failed or expired" : "pending") attempts)"
        }
    }
}
