/// SQL assembled at run time whose interpolated values become `$n` bind parameters, numbered for you.
///
/// Written as a string literal, as postgres-nio's `PostgresQuery` is:
///
/// ```swift
/// var query: PostgresQuery = "SELECT id FROM items WHERE owner = \(owner)"
/// if let since { query += " AND created_at >= \(since)" }
/// query += " ORDER BY id LIMIT \(limit)"
/// // query.sql == "SELECT id FROM items WHERE owner = $1 AND created_at >= $2 ORDER BY id LIMIT $3"
/// ```
///
/// An interpolated value (anything `PostgresEncodable`) is always a bind, never text in the SQL. SQL text from
/// a variable needs the explicit `\(unsafeSQL: …)` label, so the unsafe case is visible in review; a
/// `PostgresQuery` interpolated into another keeps its binds, renumbered where it lands. The literal parts must
/// not contain `$n` placeholders of their own: the numbering is the builder's.
///
/// Fixed statements stay `PostgresStatement` constants with `$n` in their text (prepared once per connection,
/// their SQL readable in one piece); this type is for the statements whose shape depends on the call, such as a
/// filter whose criteria are optional. Run it with `PostgresConnection.query(_:named:prepared:)`, or turn it
/// into a statement and binds with `statement(named:prepared:)`.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// One piece of a query in order: SQL text, or a value that becomes the next `$n`.
    fileprivate enum Piece: Sendable, Hashable {
        case sql(String)
        case bind(PostgresBind)
    }

    private var pieces: [Piece]

    /// An empty query (no SQL, no binds): the identity of `+`.
    public init() {
        pieces = []
    }

    /// A query of literal SQL without binds.
    public init(stringLiteral value: String) {
        pieces = value.isEmpty ? [] : [.sql(value)]
    }

    /// A query from a string literal with interpolations (see `StringInterpolation`).
    public init(stringInterpolation: StringInterpolation) {
        pieces = stringInterpolation.pieces
    }

    /// The SQL text, each bind written as `$1`, `$2`, … in the order the binds appear.
    public var sql: String {
        var text = ""
        var number = 0
        for piece in pieces {
            switch piece {
            case .sql(let sql):
                text += sql
            case .bind:
                number += 1
                text += "$\(number)"
            }
        }
        return text
    }

    /// The bind parameters, `binds[0]` for `$1`.
    public var binds: [PostgresBind] {
        pieces.compactMap { piece in
            if case .bind(let bind) = piece { bind } else { nil }
        }
    }

    /// True when the query has neither SQL nor binds.
    public var isEmpty: Bool { pieces.isEmpty }

    /// The SQL text only (binds as `$n`): the values never show up in logs.
    public var description: String { sql }

    /// Appends `other`; its binds are numbered after this query's.
    public mutating func append(_ other: PostgresQuery) {
        pieces += other.pieces
    }

    /// `lhs` followed by `rhs`, with `rhs`'s binds numbered after `lhs`'s.
    public static func + (lhs: PostgresQuery, rhs: PostgresQuery) -> PostgresQuery {
        var query = lhs
        query.append(rhs)
        return query
    }

    /// Appends `rhs` to `lhs`.
    public static func += (lhs: inout PostgresQuery, rhs: PostgresQuery) {
        lhs.append(rhs)
    }

    /// The non-empty `parts` joined by `separator`, e.g. conditions joined by `" AND "`; empty when every part
    /// is empty.
    public static func joined(_ parts: [PostgresQuery], separator: PostgresQuery) -> PostgresQuery {
        var query = PostgresQuery()
        for part in parts where !part.isEmpty {
            if !query.isEmpty { query.append(separator) }
            query.append(part)
        }
        return query
    }

    /// The query as a statement and its binds, for the APIs that take a `PostgresStatement`.
    /// - Parameters:
    ///   - name: identifies the statement in errors, logs and metrics (never its SQL or values).
    ///   - prepared: prepare it on each connection and reuse it. Only for a query whose text takes a few
    ///     shapes: a connection keeps every distinct prepared text until it closes. Off by default.
    public func statement(named name: String, prepared: Bool = false) -> (statement: PostgresStatement, binds: [PostgresBind]) {
        (PostgresStatement(name: name, sql: sql, isPrepared: prepared), binds)
    }

    /// Builds a `PostgresQuery` from a literal: literal text is SQL, interpolations are binds unless labelled.
    public struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var pieces: [Piece] = []

        /// Reserves room for the literal's pieces.
        public init(literalCapacity: Int, interpolationCount: Int) {
            pieces.reserveCapacity(2 * interpolationCount + 1)
        }

        /// Literal text: SQL.
        public mutating func appendLiteral(_ literal: String) {
            guard !literal.isEmpty else { return }
            pieces.append(.sql(literal))
        }

        /// A value: the next bind parameter (`$n`), never SQL text. nil binds SQL NULL.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            pieces.append(.bind(value.postgresBind))
        }

        /// A value of any encodable type: the next bind parameter.
        public mutating func appendInterpolation(_ value: any PostgresEncodable) {
            pieces.append(.bind(value.postgresBind))
        }

        /// Another query: its SQL and binds, the binds renumbered where it lands.
        public mutating func appendInterpolation(_ query: PostgresQuery) {
            pieces += query.pieces
        }

        /// SQL text taken as is: a column list, a constant, a table name from code. Never a value from outside;
        /// the label is there so that this case stands out in review.
        public mutating func appendInterpolation(unsafeSQL sql: String) {
            guard !sql.isEmpty else { return }
            pieces.append(.sql(sql))
        }
    }
}
