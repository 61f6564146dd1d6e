import AsyncTask
import Foundation
import PostgresClient

/// Which attempts a bulk action from the API or the dashboard means: ids picked one by one, or every match of
/// a filter (internal targets only when the filter asks for them).
enum BulkSelection: Sendable, Hashable {
    /// These attempts (those in a status the action applies to).
    case ids([Int64])
    /// Every attempt the filter matches now (paging cursors ignored).
    case filter(AttemptFilter)

    /// The most ids one request may name.
    static let maxIDs = 10_000

    /// Reads `ids` (comma-separated, or `pickedIDs` from repeated form fields) or else the filter criteria.
    /// - Throws: `FilterParser.Error` for a bad id or criterion, or when neither ids nor a criterion is given.
    static func parse(_ value: (String) -> String?, pickedIDs: [String] = []) throws(FilterParser.Error) -> BulkSelection {
        let texts = pickedIDs + (value("ids")?.split(separator: ",").map(String.init) ?? [])
        let idTexts = texts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !idTexts.isEmpty {
            guard idTexts.count <= maxIDs else {
                throw FilterParser.Error(field: "ids", reason: "\(idTexts.count) ids: at most \(maxIDs) per request (use a filter instead)")
            }
            var ids: [Int64] = []
            for text in idTexts {
                guard let id = Int64(text), id > 0 else { throw FilterParser.Error(field: "ids", reason: "'\(text)' is not an attempt id") }
                ids.append(id)
            }
            return .ids(ids)
        }
        var filter = try FilterParser.filter(value)
        filter.beforeID = nil
        guard !filter.isEmpty else {
            throw FilterParser.Error(field: "selection", reason: "give attempt ids or at least one criterion (status, target, method, since, state)")
        }
        return .filter(filter)
    }

    /// How many attempts `action` would change now.
    func count(_ action: AttemptActionRequest, on connection: PostgresConnection) async throws(PostgresError) -> Int {
        switch self {
        case .ids(let ids): try await BulkAttemptActions().count(action, ids: ids, on: connection)
        case .filter(let filter): try await BulkAttemptActions().count(action, filter: filter, on: connection)
        }
    }

    /// Applies `action`; returns the ids changed.
    func apply(_ action: AttemptActionRequest, on connection: PostgresConnection) async throws(PostgresError) -> [Int64] {
        switch self {
        case .ids(let ids): try await BulkAttemptActions().apply(action, ids: ids, on: connection)
        case .filter(let filter): try await BulkAttemptActions().apply(action, filter: filter, on: connection)
        }
    }
}
