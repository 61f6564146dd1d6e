import AsyncTaskCore
import Foundation
public import PostgresClient

/// Operator actions applied to every attempt a filter matches, in small batches.
///
/// Each batch is the single-attempt statement of `AttemptActions` with at most `batchSize` ids, under the same
/// transition table (`AttemptAction`), so no statement holds many row locks and workers claiming at the same
/// time are never blocked for long. Rows that changed status between the selection and the update are simply
/// not changed.
public struct BulkAttemptActions: Sendable {
    /// Rows per UPDATE.
    public let batchSize: Int

    /// Creates the actions with `batchSize` rows per statement.
    public init(batchSize: Int = 500) {
        self.batchSize = max(1, batchSize)
    }

    static let countIDs = PostgresStatement(
        name: "bulk_count_ids",
        sql: """
            SELECT count(*) AS n FROM async_task_attempts WHERE id = ANY($1::bigint[]) AND status = ANY($2::text[])
            """)

    /// How many attempts `action` would change for `filter` now (for `--dry-run` and the confirmation).
    public func count(_ action: AttemptActionRequest, filter: AttemptFilter, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        guard let filter = Self.selection(action, filter) else { return 0 }
        return try await AttemptQueries().count(filter, on: connection)
    }

    /// `filter` narrowed to the statuses `action` applies to, or nil when the filter names only statuses the
    /// action does not apply to (`retry --status pending`): then nothing matches. (An empty status list in a
    /// filter means "any status", so the intersection cannot be passed on as one.)
    static func selection(_ action: AttemptActionRequest, _ filter: AttemptFilter) -> AttemptFilter? {
        let restricted = filter.restricted(to: action.appliesTo)
        return restricted.statuses?.isEmpty == true ? nil : restricted
    }

    /// Applies `action` to every attempt matching `filter`, batch by batch, in id order.
    /// - Parameter progress: called after each batch with the number changed so far.
    /// - Returns: the ids changed.
    /// - Throws: `PostgresError`; batches already applied stay applied.
    @discardableResult
    public func apply(
        _ action: AttemptActionRequest, filter: AttemptFilter, on connection: PostgresConnection, progress: (Int) -> Void = { _ in }
    ) async throws(PostgresError) -> [Int64] {
        guard let filter = Self.selection(action, filter) else { return [] }
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
    public func count(_ action: AttemptActionRequest, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> Int {
        try await connection.query(Self.countIDs, [ids, action.appliesTo.map(\.rawValue)]).single().decode(Int.self, "n")
    }

    /// Applies `action` to those of `ids` in a status it applies to, `batchSize` ids per statement.
    /// - Returns: the ids changed.
    /// - Throws: `PostgresError`; batches already applied stay applied.
    @discardableResult
    public func apply(_ action: AttemptActionRequest, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        var changed: [Int64] = []
        for start in stride(from: 0, to: ids.count, by: batchSize) {
            changed += try await update(action, ids: Array(ids[start..<min(ids.count, start + batchSize)]), on: connection)
        }
        return changed
    }

    /// One batch: the action's UPDATE of `ids`, returning those it changed.
    private func update(_ action: AttemptActionRequest, ids: [Int64], on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        try await AttemptActions().update(action, ids: ids, on: connection).map(\.id)
    }
}
