import CLibPQ
public import Logging
import Synchronization

/// One connection to PostgreSQL over libpq.
///
/// Every blocking libpq call runs on the connection's own thread, never on Swift's cooperative pool; callers
/// `await` the result. Use a connection from one task at a time (the pool guarantees this); queries are
/// parameterised and prepared once per connection. Cancelling the awaiting task cancels the running query on
/// the server (`PQcancel`).
public final class PostgresConnection: Sendable {
    /// Transaction isolation levels for `withTransaction`.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    private struct State {
        var transactionDepth = 0
        var isClosed = false
        /// The call whose query is running on the server, so cancellation cancels that call only.
        var runningCall: UInt64?
        var nextCall: UInt64 = 0
    }

    private let native: NativeConnection
    private let thread: BlockingThread
    private let state = Mutex(State())
    /// Where this connection points (no password), for messages.
    public let configuration: PostgresConfiguration
    /// The logger for this connection's events.
    public let logger: Logger

    private init(native: NativeConnection, thread: BlockingThread, configuration: PostgresConfiguration, logger: Logger) {
        self.native = native
        self.thread = thread
        self.configuration = configuration
        self.logger = logger
    }

    deinit {
        // Not closed by its owner: close on the connection's thread, then let the thread exit.
        let native = self.native
        thread.submit { native.close() }
        thread.stop()
    }

    /// Opens a connection.
    /// - Throws: `PostgresError` with code `.connectionFailed` and libpq's reason (never the password).
    public static func connect(
        _ configuration: PostgresConfiguration,
        logger: Logger = Logger(label: "asynctask.postgres")
    ) async throws(PostgresError) -> PostgresConnection {
        var configuration = configuration
        if configuration.value(of: "client_encoding") == nil { configuration.set("client_encoding", "UTF8") }
        if configuration.value(of: "connect_timeout") == nil { configuration.set("connect_timeout", "10") }
        let thread = BlockingThread(name: "libpq")
        let parameters = configuration.parameters
        let description = configuration.description
        let native: NativeConnection
        do {
            native = try await thread.run { () throws(PostgresError) -> NativeConnection in
                try NativeConnection.open(parameters: parameters, description: description)
            }
        } catch {
            thread.stop()
            throw error
        }
        return PostgresConnection(native: native, thread: thread, configuration: configuration, logger: logger)
    }

    /// True once the connection broke (or was closed); a pool drops such connections.
    public var isBroken: Bool {
        state.withLock { $0.isClosed } || native.isBroken
    }

    /// Runs a statement with bind parameters and returns its rows.
    /// - Throws: `PostgresError`; `.cancelled` when the task was cancelled (the server-side query is cancelled
    ///   too), `.connectionClosed` when the connection broke.
    @discardableResult
    public func query(_ statement: PostgresStatement, _ binds: [any PostgresEncodable] = []) async throws(PostgresError) -> PostgresRows {
        try await run(statement, binds.map(\.postgresBind), honourCancellation: true)
    }

    /// Runs a query built at run time (interpolated values are its binds) and returns its rows.
    /// - Parameters:
    ///   - name: identifies the query in errors and logs, as a `PostgresStatement`'s name does.
    ///   - prepared: prepare the text once per connection and reuse it; only for queries whose text takes a few
    ///     shapes (see `PostgresQuery.statement(named:prepared:)`).
    /// - Throws: `PostgresError`, as `query(_:_:)`.
    @discardableResult
    public func query(_ query: PostgresQuery, named name: String, prepared: Bool = false) async throws(PostgresError) -> PostgresRows {
        let (statement, binds) = query.statement(named: name, prepared: prepared)
        return try await run(statement, binds, honourCancellation: true)
    }

    /// Streams `rows` into a table with `statement`, a `COPY table (columns…) FROM STDIN` (text format), and
    /// returns the number of rows the server inserted. Runs inside the caller's transaction when there is one.
    /// - Throws: `PostgresError`: a constraint or type error names the failing line in its message; `.cancelled`
    ///   when the task was cancelled.
    @discardableResult
    public func copy(_ statement: PostgresStatement, rows: PostgresCopyRows) async throws(PostgresError) -> Int {
        let native = self.native
        let data = rows.bytes
        return try await withCancellableCall(honourCancellation: true, queryName: statement.name) { () throws(PostgresError) -> PostgresRows in
            try native.copyIn(statement, data: data)
        }.affectedRows
    }

    /// Streams `count` rows into a table with `statement` (`COPY table (columns…) FROM STDIN`), asking `row`
    /// for each row's values as the data goes out, and returns the number of rows the server inserted.
    ///
    /// The rows are encoded on the connection's thread in chunks of about 64 KiB while the server parses the
    /// chunks already sent, so a large batch costs little more than the server's own work. Runs inside the
    /// caller's transaction when there is one.
    /// - Throws: `PostgresError`: a row that cannot be encoded (a NUL byte, another number of values) aborts the
    ///   COPY with SQLSTATE 22P04 naming the row; a constraint or type error from the server names the line.
    @discardableResult
    public func copy(
        _ statement: PostgresStatement, count: Int, row: @escaping @Sendable (Int) -> [any PostgresEncodable]
    ) async throws(PostgresError) -> Int {
        let native = self.native
        return try await withCancellableCall(honourCancellation: true, queryName: statement.name) { () throws(PostgresError) -> PostgresRows in
            var rows = PostgresCopyRows()
            return try native.copyIn(statement) { (chunk: inout [UInt8]) throws(PostgresError) -> Bool in
                while rows.count < count, rows.bytes.count < 64 * 1024 {
                    do throws(PostgresCopyError) {
                        try rows.append(row(rows.count))
                    } catch {
                        throw PostgresError(code: .server, sqlState: .badCopyFileFormat, message: error.description, queryName: statement.name)
                    }
                }
                swap(&chunk, &rows.bytes)
                return rows.count < count
            }
        }.affectedRows
    }

    /// Runs a semicolon-separated script without parameters (migrations, session settings).
    /// - Parameter name: identifies the script in errors.
    public func execute(script: String, name: String) async throws(PostgresError) {
        try await runScript(script, name: name, honourCancellation: true)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (cancellation included).
    /// Nested calls use savepoints, so an inner failure rolls back only the inner work.
    /// - Throws: what `body` throws, or the `PostgresError` of BEGIN/COMMIT. A body that swallowed a server error
    ///   leaves the transaction aborted; COMMIT then reports that instead of silently rolling back.
    @discardableResult
    public func withTransaction<T>(
        isolation: IsolationLevel? = nil,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let depth = state.withLock { state in
            state.transactionDepth += 1
            return state.transactionDepth
        }
        defer { state.withLock { $0.transactionDepth -= 1 } }
        if depth == 1 {
            let begin = isolation.map { "BEGIN ISOLATION LEVEL \($0.rawValue)" } ?? "BEGIN"
            try await runScript(begin, name: "begin", honourCancellation: true)
        } else {
            try await runScript("SAVEPOINT asynctask_sp\(depth)", name: "savepoint", honourCancellation: true)
        }
        let value: T
        do {
            value = try await body(self)
        } catch {
            // Roll back even when the task is cancelled: that is exactly when it must happen.
            if !native.isBroken {
                let rollback = depth == 1 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT asynctask_sp\(depth); RELEASE SAVEPOINT asynctask_sp\(depth)"
                try? await runScript(rollback, name: "rollback", honourCancellation: false)
            }
            throw error
        }
        if depth == 1 {
            if native.isTransactionAborted {
                try? await runScript("ROLLBACK", name: "rollback", honourCancellation: false)
                throw PostgresError(
                    code: .server, sqlState: .inFailedTransaction,
                    message: "the transaction was aborted by an earlier error that the body caught; it was rolled back",
                    queryName: "commit")
            }
            try await runScript("COMMIT", name: "commit", honourCancellation: false)
        } else {
            try await runScript("RELEASE SAVEPOINT asynctask_sp\(depth)", name: "release_savepoint", honourCancellation: false)
        }
        return value
    }

    /// True while inside `withTransaction`.
    public var isInTransaction: Bool { state.withLock { $0.transactionDepth > 0 } }

    /// Runs `body` with this connection and closes it afterwards, whether `body` returns or throws: the
    /// shape of every short-lived connection (a CLI command, a test's setup).
    public func closingAfter<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            let value = try await body(self)
            await close()
            return value
        } catch {
            await close()
            throw error
        }
    }

    /// Closes the connection and stops its thread. Later calls fail with `.connectionClosed`.
    public func close() async {
        let alreadyClosed = state.withLock { state in
            defer { state.isClosed = true }
            return state.isClosed
        }
        guard !alreadyClosed else { return }
        let native = self.native
        await thread.run { native.close() }
        thread.stop()
    }

    /// Brings an idle connection's view of the socket up to date (reads a pending termination notice), so a
    /// pool can drop a connection the server has already closed before handing it out.
    ///
    /// Runs on the caller's thread: it never blocks (a zero-timeout `poll` and libpq reads of a socket libpq
    /// keeps non-blocking), and the connection is idle, so no job of its own thread can touch it meanwhile (the
    /// pool hands a connection to one task at a time, behind its lock). A trip to the connection's thread here
    /// cost every pooled statement a second thread hand-off.
    func refreshIdleState() -> Bool {
        native.pollIdle()
    }

    /// The state libpq reports for the current transaction block.
    var transactionStatus: NativeConnection.TransactionStatus { native.transactionStatus }

    /// Rolls back an open transaction left by a failed caller, so the pool can reuse the connection.
    func resetTransaction() async throws(PostgresError) {
        try await runScript("ROLLBACK", name: "rollback", honourCancellation: false)
    }

    /// The server process id of this connection (for `pg_terminate_backend` and logs).
    public var backendPID: Int32 { native.backendPID }

    // MARK: - Running on the connection thread

    private func run(_ statement: PostgresStatement, _ binds: [PostgresBind], honourCancellation: Bool) async throws(PostgresError) -> PostgresRows {
        let native = self.native
        return try await withCancellableCall(honourCancellation: honourCancellation, queryName: statement.name) {
            () throws(PostgresError) -> PostgresRows in
            try native.execute(statement, binds)
        }
    }

    private func runScript(_ script: String, name: String, honourCancellation: Bool) async throws(PostgresError) {
        let native = self.native
        _ = try await withCancellableCall(honourCancellation: honourCancellation, queryName: name) { () throws(PostgresError) -> PostgresRows in
            try native.executeScript(script, name: name)
        }
    }

    private func withCancellableCall(
        honourCancellation: Bool,
        queryName: String,
        _ job: @escaping @Sendable () throws(PostgresError) -> PostgresRows
    ) async throws(PostgresError) -> PostgresRows {
        if state.withLock({ $0.isClosed }) {
            throw PostgresError(code: .connectionClosed, message: "the connection was closed", queryName: queryName)
        }
        guard honourCancellation else { return try await thread.run(job) }
        if Task.isCancelled {
            throw PostgresError(code: .cancelled, message: "the task was cancelled before the query started", queryName: queryName)
        }
        let call = state.withLock { state in
            state.nextCall += 1
            return state.nextCall
        }
        let flag = CancellationFlag()
        let native = self.native
        let result: Result<PostgresRows, PostgresError> = await withTaskCancellationHandler {
            await thread.run { [self] () -> Result<PostgresRows, PostgresError> in
                if flag.isSet {
                    return .failure(PostgresError(code: .cancelled, message: "the task was cancelled before the query started", queryName: queryName))
                }
                state.withLock { $0.runningCall = call }
                defer { state.withLock { $0.runningCall = nil } }
                do throws(PostgresError) {
                    return .success(try job())
                } catch {
                    return .failure(error)
                }
            }
        } onCancel: { [self] in
            flag.set()
            if state.withLock({ $0.runningCall == call }) { native.cancelRunningQuery() }
        }
        switch result {
        case .success(let rows):
            return rows
        case .failure(var error):
            if flag.isSet && error.sqlState == .queryCanceled {
                error.code = .cancelled
                error.message = "the query was cancelled because its task was cancelled"
                error.messageIsFromServer = false
            }
            throw error
        }
    }
}

/// A flag set once from any thread.
final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
