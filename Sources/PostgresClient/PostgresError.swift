/// An error from the PostgreSQL client: a server error with its SQLSTATE, a lost connection, a cancelled query,
/// a decoding mismatch, or an exhausted pool.
///
/// It carries the *name* of the query that failed, never its parameter values. `description` is one line fit for
/// users and logs (no password, no values); `debugDescription` adds the server's detail, hint and context.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String { case invalidConfiguration, connectionFailed, connectionClosed, server, cancelled, decoding, poolTimeout, poolClosed, protocolViolation }
        private let base: Base

        /// A connection URL or keyword that libpq rejects.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// An established connection broke (server restart, `pg_terminate_backend`, network loss).
        public static let connectionClosed = Code(base: .connectionClosed)
        /// The server answered with an error; see `sqlState`.
        public static let server = Code(base: .server)
        /// The query was cancelled because its task was cancelled.
        public static let cancelled = Code(base: .cancelled)
        /// A column could not be decoded to the requested Swift type.
        public static let decoding = Code(base: .decoding)
        /// No pooled connection became free within the acquire timeout.
        public static let poolTimeout = Code(base: .poolTimeout)
        /// The pool was shut down.
        public static let poolClosed = Code(base: .poolClosed)
        /// libpq returned something this client does not expect (e.g. a COPY state where none was started).
        public static let protocolViolation = Code(base: .protocolViolation)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The server's SQLSTATE (e.g. `23505` for a unique violation), when the server reported the error.
    public var sqlState: SQLState?
    /// The primary message (server's, libpq's, or this client's).
    public var message: String
    /// The server's detail line, which may quote row values: kept out of `description`.
    public var detail: String?
    /// The server's hint.
    public var hint: String?
    /// The constraint that was violated, if any.
    public var constraintName: String?
    /// The name of the query that failed (its constant's name, never its values).
    public var queryName: String?

    /// Creates an error.
    public init(
        code: Code, sqlState: SQLState? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraintName: String? = nil, queryName: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraintName = constraintName
        self.queryName = queryName
    }

    /// True when the connection this happened on can no longer be used.
    public var isConnectionLoss: Bool {
        code == .connectionClosed || code == .connectionFailed
            || sqlState.map { $0.rawValue.hasPrefix("08") || $0 == .adminShutdown || $0 == .crashShutdown || $0 == .cannotConnectNow } == true
    }

    public var description: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " \(sqlState.rawValue)" }
        if let queryName { text += " in query '\(queryName)'" }
        return text + ": " + message
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        if let constraintName { text += "\nCONSTRAINT: \(constraintName)" }
        return text
    }
}

/// A five-character SQLSTATE code, with names for the ones callers branch on.
public struct SQLState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `bad_copy_file_format`: a COPY row the client could not encode (a NUL byte, a wrong number of values).
    public static let badCopyFileFormat = SQLState(rawValue: "22P04")
    /// `23505`: a unique index rejected the row.
    public static let uniqueViolation = SQLState(rawValue: "23505")
    /// `23503`
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    /// `23502`
    public static let notNullViolation = SQLState(rawValue: "23502")
    /// `23514`
    public static let checkViolation = SQLState(rawValue: "23514")
    /// `40001`: retry the transaction.
    public static let serializationFailure = SQLState(rawValue: "40001")
    /// `40P01`: retry the transaction.
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    /// `57014`: the statement was cancelled (by `PQcancel` or `statement_timeout`).
    public static let queryCanceled = SQLState(rawValue: "57014")
    /// `57P01`: the backend was terminated (`pg_terminate_backend`, fast shutdown).
    public static let adminShutdown = SQLState(rawValue: "57P01")
    /// `57P02`
    public static let crashShutdown = SQLState(rawValue: "57P02")
    /// `57P03`: the server is starting up or shutting down.
    public static let cannotConnectNow = SQLState(rawValue: "57P03")
    /// `42P01`
    public static let undefinedTable = SQLState(rawValue: "42P01")
    /// `22P02`
    public static let invalidTextRepresentation = SQLState(rawValue: "22P02")
    /// `26000`: a prepared statement vanished (e.g. after `DISCARD ALL`).
    public static let invalidSQLStatementName = SQLState(rawValue: "26000")
    /// `25P02`: the transaction is aborted; only ROLLBACK is accepted.
    public static let inFailedTransaction = SQLState(rawValue: "25P02")

    public var description: String { rawValue }
}
