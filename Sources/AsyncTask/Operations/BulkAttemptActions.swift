public import AsyncTaskCore
import Foundation
public import PostgresClient

/// Operator actions applied to every attempt a filter matches, in small batches.
///
/// Each batch is one UPDATE of at most `batchSize` rows by id, with the same status rule as `AttemptActions`
/// (`expire`/`fail` from pending, `retry` from failed or expired), so no statement holds many row locks and
/// workers claiming at the same time are never blocked for long. Rows that changed status between the
/// selection and the update are simply not changed.
public struct BulkAttemptActions: Sendable {
    /// One bulk action.
    public enum Action: Sendable, Hashable {
        /// Pending → expired.
        case expire
        /// Pending → failed, with an optional reason as the last error.
        case fail(reason: String?)
        /// Failed or expired → pending, with `extraTries` more tries (nil keeps `max_attempts`).
        case retry(extraTries: Int?)

        /// The statuses the action applies to.
        public var appliesTo: [AttemptStatus] {
            switch self {
            case .expire, .fail: [.pending]
            case .retry: [.failed, .expired]
            }
        }

        /// The verb, for messages ("expire", "fail", "retry").
        public var verb: String {
            switch self {
            case .expire: "expire"
            case .fail: "fail"
            case .retry: "retry"
            }
        }
    }

    /// Rows per UPDATE.
    public let batchSize: Int

    /// Creates the actions with `batchSize` rows per statement.
    public init(batchSize: Int = 500) {
        self.batchSize = max(1, batchSize)
    }

    // The same SET lists as AttemptActions, by id array; the status condition is re-checked on each row.
    static let expire = PostgresStatement(name: "bulk_expire_attempts", sql: """
        UPDATE async_task_attempts
        SET status = 'expired', completed_at = now(), updated_at = now(), locked_by = NULL
        WHERE id = ANY($1::bigint[]) AND status = 'pending'
        RETURNING id
        """)

    static let fail = PostgresStatement(name: "bulk_fail_attempts", sql: """
        UPDATE async_task_attempts
        SET status = 'failed', completed_at = now(), updated_at = now(), locked_by = NULL,
            last_error = coalesce($2, last_error), last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE now() END
        WHERE id = ANY($1::bigint[]) AND status = 'pending'
        RETURNING id
        """)

    static let retry = PostgresStatement(name: "bulk_retry_attempts", sql: """
        UPDATE async_task_attempts
        SET status = 'pending', completed_at = NULL, updated_at = now(), available_at = now(), locked_by = NULL,
            max_attempts = CASE WHEN $2::integer IS NULL THEN max_attempts ELSE num_attempts + $2::integer END
        WHERE id = ANY($1::bigint[]) AND status IN ('failed', 'expired')
        RETURNING id
        """)

    static let countIDs = PostgresStatement(name: "bulk_count_ids", sql: """
        SELECT count(*) AS n FROM async_task_attempts WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[])
        """)

    /// How many attempts `action` would change for `filter` now (for `--dry-run` and the confirmation).
    public func count(_ action: Action, filter: AttemptFilter, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await AttemptQueries().count(filter.restricted(to: action.appliesTo), on: connection)
    }

    /// Applies `action` to every attempt matching `filter`, batch by batch, in id order.
    /// - Parameter progress: called after each batch with the number changed so far.
    /// - Returns: the ids changed.
    /// - Throws: `PostgresError`; batches already applied stay applied.
    @discardableResult
    public func apply(
        _ action: Action, filter: AttemptFilter, on connection: PostgresConnection, progress: (Int) -> Void = { _ in }
    ) async throws(PostgresError) -> [Int64] {
        let filter = filter.restricted(to: action.appliesTo)
        let queries = AttemptQueries()
        var changed: [Int64] = []
        var cursor: Int64 = 0
        while true {
            let ids = try await queries.ids(filter, after: cursor, limit: batchSize, on: connection)
            guard let last = ids.last else { break }
            cursor = last
            changed += try await update(action, ids: ids, on: connection)
            progress(changed.count)
            if ids.count < batchSize { break }
        }
        return changed
    }

    /// How many of `ids` `action` would change now (those in a status it applies to).
    public func count(_ action: Action, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await connection.query(Self.countIDs, [ids, action.appliesTo.map(\.rawValue)]).single().decode(Int.self, "n")
    }

    /// Applies `action` to those of `ids` in a status it applies to, `batchSize` ids per statement.
    /// - Returns: the ids changed.
    /// - Throws: `PostgresError`; batches already applied stay applied.
    @discardableResult
    public func apply(_ action: Action, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        var changed: [Int64] = []
        for start in stride(from: 0, to: ids.count, by: batchSize) {
            changed += try await update(action, ids: Array(ids[start..<min(ids.count, start + batchSize)]), on: connection)
        }
        return changed
    }

    /// One batch: the action's UPDATE of `ids`, returning those it changed.
    private func update(_ action: Action, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        let rows: PostgresRows
        switch action {
        case .expire: rows = try await connection.query(Self.expire, [ids])
        case .fail(let reason): rows = try await connection.query(Self.fail, [ids, reason])
        case .retry(let extraTries): rows = try await connection.query(Self.retry, [ids, extraTries.map { Int32(clamping: $0) }])
        }
        return try rows.map { row throws(PostgresError) in try row.decode(Int64.self, "id") }
    }
}
