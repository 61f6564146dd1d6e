/// An error from the PostgreSQL client: a server error with its SQLSTATE, a lost connection, a cancelled query,
/// a decoding mismatch, or an exhausted pool.
///
/// It carries the *name* of the query that failed, never its parameter values. `description` is one line fit for
/// logs: the kind, the SQLSTATE and its condition name, the query's name and the constraint, but not the server's
/// error message, which can quote values ("invalid input syntax for type integer: \"…\""), as postgres-nio keeps
/// its descriptions generic. Messages this client or libpq wrote (a refused connection, a lost one, a decoding
/// mismatch, a COPY row that cannot be encoded) never hold values and stay in. `descriptionWithMessage` adds the server's message, for a user who ran the statement themselves
/// (the CLI); `debugDescription` adds the detail, hint and constraint as well.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String {
            case invalidConfiguration, connectionFailed, connectionClosed, server, cancelled, decoding, poolTimeout, poolClosed, protocolViolation
        }
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
    /// True when `message` is the server's error message for a statement, which may quote the statement's values
    /// (and so stays out of `description`); false for the messages this client and libpq write.
    public var messageIsFromServer: Bool

    /// Creates an error.
    public init(
        code: Code, sqlState: SQLState? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraintName: String? = nil, queryName: String? = nil, messageIsFromServer: Bool = false
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraintName = constraintName
        self.queryName = queryName
        self.messageIsFromServer = messageIsFromServer
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
        guard messageIsFromServer else { return text + ": " + message }
        if let name = sqlState?.name { text += ": \(name)" }
        if let constraintName { text += " (constraint \(constraintName))" }
        return text
    }

    /// One line with the primary message, as `psql` prints it: for the user who ran the statement and sees their
    /// own data (a CLI command's error line), not for logs.
    public var descriptionWithMessage: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " \(sqlState.rawValue)" }
        if let queryName { text += " in query '\(queryName)'" }
        return text + ": " + message
    }

    public var debugDescription: String {
        var text = descriptionWithMessage
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

    /// The condition name PostgreSQL documents for the SQLSTATEs named here (`unique_violation`), nil for others.
    public var name: String? {
        switch self {
        case .badCopyFileFormat: "bad_copy_file_format"
        case .uniqueViolation: "unique_violation"
        case .foreignKeyViolation: "foreign_key_violation"
        case .notNullViolation: "not_null_violation"
        case .checkViolation: "check_violation"
        case .serializationFailure: "serialization_failure"
        case .deadlockDetected: "deadlock_detected"
        case .queryCanceled: "query_canceled"
        case .adminShutdown: "admin_shutdown"
        case .crashShutdown: "crash_shutdown"
        case .cannotConnectNow: "cannot_connect_now"
        case .undefinedTable: "undefined_table"
        case .invalidTextRepresentation: "invalid_text_representation"
        case .invalidSQLStatementName: "invalid_sql_statement_name"
        case .inFailedTransaction: "in_failed_sql_transaction"
        default: nil
        }
    }

    public var description: String { rawValue }
}
