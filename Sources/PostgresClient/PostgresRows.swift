/// The rows a query returned, in binary format, with the count of rows a command affected.
public struct PostgresRows: Sendable, RandomAccessCollection {
    private let result: PostgresResult?
    private let columns: [String]
    /// Rows inserted, updated or deleted by the statement (from its command tag).
    public let affectedRows: Int

    init(result: PostgresResult) {
        self.result = result
        self.columns = (0..<result.columnCount).map(result.columnName)
        self.affectedRows = result.affectedRows
    }

    /// No rows.
    public init() {
        self.result = nil
        self.columns = []
        self.affectedRows = 0
    }

    /// The column names, in order.
    public var columnNames: [String] { columns }

    public var startIndex: Int { 0 }
    public var endIndex: Int { result?.rowCount ?? 0 }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(result: result, columns: columns, index: position)
    }

    /// The single row, or an error naming the query's shape when there is none.
    public func single() throws(PostgresError) -> PostgresRow {
        guard let first else { throw PostgresError(code: .decoding, message: "expected one row, got none") }
        return first
    }
}

/// One row of a result; decode its columns by name or position.
public struct PostgresRow: Sendable {
    private let result: PostgresResult?
    private let columns: [String]
    private let index: Int

    init(result: PostgresResult?, columns: [String], index: Int) {
        self.result = result
        self.columns = columns
        self.index = index
    }

    /// Decodes the column named `name`.
    /// - Throws: `PostgresError` (`.decoding`) naming the column when it is missing, NULL for a non-optional
    ///   type, or of another PostgreSQL type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ name: String) throws(PostgresError) -> T {
        guard let column = columns.firstIndex(of: name) else {
            throw PostgresError(code: .decoding, message: "no column '\(name)' in the result (columns: \(columns.joined(separator: ", ")))")
        }
        return try decode(type, at: column)
    }

    /// Decodes the column at `column` (0-based).
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws(PostgresError) -> T {
        guard let result, column >= 0, column < columns.count else {
            throw PostgresError(code: .decoding, message: "no column #\(column) in the result (\(columns.count) columns)")
        }
        return try T(from: result.cell(row: index, column: column, name: columns[column]))
    }

    /// The raw cell at `column`, for types this client does not know.
    public func cell(at column: Int) -> PostgresCell? {
        guard let result, column >= 0, column < columns.count else { return nil }
        return result.cell(row: index, column: column, name: columns[column])
    }
}
