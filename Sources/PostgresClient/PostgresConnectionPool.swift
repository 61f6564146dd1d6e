public import Logging
import Synchronization

/// A bounded pool of `PostgresConnection`s shared by many tasks.
///
/// Connections are opened on demand up to `maxConnections`; callers beyond that wait up to `acquireTimeout`.
/// A connection that broke (server restart, `pg_terminate_backend`, network loss) is dropped, not returned to
/// the pool, and an idle one the server closed is noticed before it is handed out, so the next call simply
/// gets a fresh connection.
public final class PostgresConnectionPool: Sendable {
    /// Pool limits.
    public struct Options: Sendable {
        /// Connections open at most at once.
        public var maxConnections: Int
        /// How long `withConnection` waits for a free connection before failing with `.poolTimeout`.
        public var acquireTimeout: Duration

        /// Creates pool limits.
        public init(maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10)) {
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
        }
    }

    /// What a waiter is handed: a free connection, or the right to open a new one (a slot freed up).
    private enum Lease: Sendable {
        case connection(PostgresConnection)
        case openSlot
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Lease, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var isClosed = false
    }

    /// Where connections go.
    public let configuration: PostgresConfiguration
    /// The pool's limits.
    public let options: Options
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a pool; no connection is opened until the first call.
    public init(configuration: PostgresConfiguration, options: Options = Options(), logger: Logger = Logger(label: "asynctask.postgres")) {
        self.configuration = configuration
        self.options = options
        self.logger = logger
    }

    /// Runs `body` with a connection of its own; the connection returns to the pool afterwards (or is dropped
    /// if it broke). The closure must not keep the connection.
    @discardableResult
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction on a pooled connection: COMMIT on return, ROLLBACK on throw.
    @discardableResult
    public func withTransaction<T>(
        isolation: PostgresConnection.IsolationLevel? = nil,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(isolation: isolation, body)
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ statement: PostgresStatement, _ binds: [any PostgresEncodable] = []) async throws -> PostgresRows {
        try await withConnection { connection in try await connection.query(statement, binds) }
    }

    /// Runs one query built at run time on a pooled connection (see `PostgresConnection.query(_:named:prepared:)`).
    @discardableResult
    public func query(_ query: PostgresQuery, named name: String, prepared: Bool = false) async throws -> PostgresRows {
        try await withConnection { connection in try await connection.query(query, named: name, prepared: prepared) }
    }

    /// Connections currently open (idle or in use), and idle ones.
    public var counts: (open: Int, idle: Int) {
        state.withLock { ($0.open, $0.idle.count) }
    }

    /// Closes idle connections and fails waiters; connections in use close when they are returned.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.isClosed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            state.open -= state.idle.count
            return (state.idle, state.waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(code: .poolClosed, message: "the connection pool was closed"))
        }
        for connection in idle { await connection.close() }
    }

    // MARK: - Acquire and release

    private enum Decision {
        case use(PostgresConnection)
        case open
        case wait
        case closed
    }

    private func acquire() async throws -> PostgresConnection {
        while true {
            let decision = state.withLock { state -> Decision in
                if state.isClosed { return .closed }
                if let connection = state.idle.popLast() { return .use(connection) }
                if state.open < options.maxConnections {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch decision {
            case .closed:
                throw PostgresError(code: .poolClosed, message: "the connection pool was closed")
            case .use(let connection):
                if connection.refreshIdleState() { return connection }
                logger.info("dropping a pooled connection the server closed", metadata: ["backend_pid": .stringConvertible(connection.backendPID)])
                await discard(connection)
            case .open:
                return try await openConnection()
            case .wait:
                switch try await waitForLease() {
                case .connection(let connection):
                    if connection.refreshIdleState() { return connection }
                    await discard(connection)
                case .openSlot:
                    return try await openConnection()
                }
            }
        }
    }

    /// Opens a connection into a slot already counted in `open`; gives the slot back on failure.
    private func openConnection() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration, logger: logger)
        } catch {
            freeSlot()
            throw error
        }
    }

    private func waitForLease() async throws -> Lease {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timeout = options.acquireTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.failWaiter(
                id,
                with: PostgresError(
                    code: .poolTimeout,
                    message: "no database connection became free within \(timeout) (pool of \(self?.options.maxConnections ?? 0))"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Result<Lease, any Error>? in
                    if state.isClosed { return .failure(PostgresError(code: .poolClosed, message: "the connection pool was closed")) }
                    if let connection = state.idle.popLast() { return .success(.connection(connection)) }
                    if state.open < options.maxConnections {
                        state.open += 1
                        return .success(.openSlot)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            failWaiter(id, with: CancellationError())
        }
    }

    private func failWaiter(_ id: UInt64, with error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ connection: PostgresConnection) async {
        if !connection.isBroken, connection.transactionStatus == .inTransaction || connection.transactionStatus == .inError {
            // A caller left a transaction open (it threw past withTransaction or misused the connection).
            try? await connection.resetTransaction()
        }
        guard !connection.isBroken, connection.transactionStatus == .idle else {
            await discard(connection)
            return
        }
        let (waiter, closed) = state.withLock { state -> (Waiter?, Bool) in
            if state.isClosed {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.idle.append(connection)
            return (nil, false)
        }
        if closed { await connection.close() }
        waiter?.continuation.resume(returning: .connection(connection))
    }

    private func discard(_ connection: PostgresConnection) async {
        await connection.close()
        freeSlot()
    }

    /// Gives a slot back: the first waiter may open a connection in it.
    private func freeSlot() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.waiters.isEmpty, !state.isClosed { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .openSlot)
    }
}
