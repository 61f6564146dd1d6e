import CLibPQ
import Foundation
import Synchronization

/// Owns a `PGconn` and its cancel handle: the only place this module calls libpq on a live connection.
///
/// Callers must use it from one thread at a time (its `BlockingThread`), except for `cancelRunningQuery()` and
/// the status reads, which libpq allows from any thread.
// Thread-safety: `connection` is used only on the owning connection's BlockingThread (one job at a time), and
// written only there, by `close()`, which holds `statusLock` while it frees and clears it; the status reads
// other threads make (`isBroken`, `transactionStatus`, `backendPID`) hold `statusLock` too, so they never see a
// freed PGconn. PQcancel on `cancel` is documented thread-safe; `preparedNames` is guarded by a Mutex; PQstatus,
// PQtransactionStatus and PQbackendPID only read fields of the PGconn struct.
final class NativeConnection: @unchecked Sendable {
    /// libpq's view of the transaction block.
    enum TransactionStatus { case idle, active, inTransaction, inError, unknown }

    private var connection: OpaquePointer?
    private let cancel: OpaquePointer?
    private let description: String
    /// SQL text → prepared statement name on this connection.
    private let preparedNames = Mutex<[String: String]>([:])
    private let closed = Atomic<Bool>(false)
    /// Held by `close()` while it frees `connection`, and by the status reads from other threads.
    private let statusLock = Mutex<Void>(())

    private init(connection: OpaquePointer, description: String) {
        // Server notices (and the FATAL of a terminated backend) would otherwise go straight to stderr; errors
        // reach callers through results instead.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
        self.cancel = PQgetCancel(connection)
        self.description = description
    }

    deinit {
        if let cancel { PQfreeCancel(cancel) }
        if let connection { PQfinish(connection) }
    }

    /// Connects (blocking).
    static func open(parameters: [(key: String, value: String)], description: String) throws(PostgresError) -> NativeConnection {
        let keys = parameters.map { strdup($0.key) }
        let values = parameters.map { strdup($0.value) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keyPointers: [UnsafePointer<CChar>?] = keys.map { $0.map { UnsafePointer($0) } } + [nil]
        let valuePointers: [UnsafePointer<CChar>?] = values.map { $0.map { UnsafePointer($0) } } + [nil]
        guard let connection = PQconnectdbParams(keyPointers, valuePointers, 0) else {
            throw PostgresError(code: .connectionFailed, message: "cannot connect to \(description): out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            // libpq's message spans lines ("…failed: Connection refused\n\tIs the server running…"): one line.
            let reason = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, message: "cannot connect to \(description): \(reason)")
        }
        return NativeConnection(connection: connection, description: description)
    }

    var isBroken: Bool {
        statusLock.withLock { _ in
            guard !closed.load(ordering: .acquiring), let connection else { return true }
            return PQstatus(connection) != CONNECTION_OK
        }
    }

    var isTransactionAborted: Bool { transactionStatus == .inError }

    var transactionStatus: TransactionStatus {
        let status = statusLock.withLock { _ -> PGTransactionStatusType? in
            guard let connection, !closed.load(ordering: .acquiring) else { return nil }
            return PQtransactionStatus(connection)
        }
        switch status ?? PQTRANS_UNKNOWN {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inError
        default: return .unknown
        }
    }

    var backendPID: Int32 {
        statusLock.withLock { _ in
            guard let connection else { return 0 }
            return PQbackendPID(connection)
        }
    }

    /// Closes the connection. Runs on the owning thread, like every other use of `connection`.
    func close() {
        statusLock.withLock { _ in
            guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
            if let connection { PQfinish(connection) }
            connection = nil
        }
    }

    /// Asks the server to cancel whatever this connection is running. Safe from any thread.
    func cancelRunningQuery() {
        guard let cancel else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }

    /// Reads anything the server sent while the connection sat idle (e.g. a termination notice) without
    /// blocking, and reports whether the connection is still usable.
    func pollIdle() -> Bool {
        guard let connection, !closed.load(ordering: .acquiring) else { return false }
        let socket = PQsocket(connection)
        guard socket >= 0 else { return false }
        // A terminated backend sends an error message, then closes: read until the socket has nothing more, so
        // the end of stream is seen too (libpq marks the connection bad only when it reads EOF).
        for _ in 0..<4 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(connection) == 0 { return false }
            _ = PQisBusy(connection)
        }
        // Drop stray notifications; this connection does not LISTEN.
        while let notify = PQnotifies(connection) { PQfreemem(notify) }
        return PQstatus(connection) == CONNECTION_OK
    }

    // MARK: LISTEN / NOTIFY

    /// Quotes `name` as an SQL identifier (for LISTEN, which takes no bind parameters).
    func quoteIdentifier(_ name: String) -> String? {
        guard let connection, let quoted = PQescapeIdentifier(connection, name, name.utf8.count) else { return nil }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Waits up to `timeoutMilliseconds` for the socket to become readable, then returns the notifications that
    /// arrived; nil when the connection broke.
    func waitForNotifications(timeoutMilliseconds: Int32) -> [PostgresNotification]? {
        guard let connection, !closed.load(ordering: .acquiring) else { return nil }
        let socket = PQsocket(connection)
        guard socket >= 0 else { return nil }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 && errno != EINTR { return nil }
        if ready > 0 {
            guard PQconsumeInput(connection) != 0 else { return nil }
        }
        var notifications: [PostgresNotification] = []
        while let notify = PQnotifies(connection) {
            notifications.append(
                PostgresNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    senderPID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        return PQstatus(connection) == CONNECTION_OK ? notifications : nil
    }

    // MARK: Queries

    func execute(_ statement: PostgresStatement, _ binds: [PostgresBind]) throws(PostgresError) -> PostgresRows {
        guard let connection, !closed.load(ordering: .acquiring) else {
            throw PostgresError(code: .connectionClosed, message: "the connection was closed", queryName: statement.name)
        }
        for (index, bind) in binds.enumerated() where !bind.isBinary && bind.bytes?.contains(0) == true {
            throw PostgresError(
                code: .server, sqlState: SQLState(rawValue: "22021"),
                message: "parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot hold",
                queryName: statement.name)
        }
        let result: OpaquePointer? = withParameterArrays(binds) { count, types, values, lengths, formats in
            guard statement.isPrepared else {
                return PQexecParams(connection, statement.sql, count, types, values, lengths, formats, 1)
            }
            var name = preparedNames.withLock { $0[statement.sql] }
            for attempt in 0..<2 {
                if name == nil {
                    let newName = "asynctask_\(preparedNames.withLock { $0.count })"
                    let prepared = PQprepare(connection, newName, statement.sql, count, types)
                    let status = prepared.map(PQresultStatus) ?? PGRES_FATAL_ERROR
                    guard status == PGRES_COMMAND_OK else { return prepared }
                    PQclear(prepared)
                    preparedNames.withLock { $0[statement.sql] = newName }
                    name = newName
                }
                let result = PQexecPrepared(connection, name, count, values, lengths, formats, 1)
                // The statement vanished (DISCARD ALL by someone else): prepare it again, once.
                if attempt == 0, let result, PQresultStatus(result) == PGRES_FATAL_ERROR,
                    Self.sqlState(of: result) == SQLState.invalidSQLStatementName.rawValue
                {
                    PQclear(result)
                    preparedNames.withLock { _ = $0.removeValue(forKey: statement.sql) }
                    name = nil
                    continue
                }
                return result
            }
            return nil
        }
        return try rows(from: result, queryName: statement.name)
    }

    func executeScript(_ script: String, name: String) throws(PostgresError) -> PostgresRows {
        guard let connection, !closed.load(ordering: .acquiring) else {
            throw PostgresError(code: .connectionClosed, message: "the connection was closed", queryName: name)
        }
        // PQexec returns only the last result of a script; an error stops the script at that statement.
        return try rows(from: PQexec(connection, script), queryName: name)
    }

    /// Runs `COPY … FROM STDIN` and streams `data` (COPY text format) to it; the rows carry the affected count.
    func copyIn(_ statement: PostgresStatement, data: [UInt8]) throws(PostgresError) -> PostgresRows {
        var pending = data
        return try copyIn(statement) { (chunk: inout [UInt8]) throws(PostgresError) -> Bool in
            swap(&chunk, &pending)
            return false
        }
    }

    /// Runs `COPY … FROM STDIN`, sending each chunk `next` writes (COPY text format) until it returns false.
    ///
    /// `next` runs on this connection's thread between sends, so encoding the next chunk overlaps the server
    /// parsing the previous one. When `next` throws, the COPY is aborted (nothing is inserted) and its error
    /// is rethrown.
    func copyIn(_ statement: PostgresStatement, next: (inout [UInt8]) throws(PostgresError) -> Bool) throws(PostgresError) -> PostgresRows {
        guard let connection, !closed.load(ordering: .acquiring) else {
            throw PostgresError(code: .connectionClosed, message: "the connection was closed", queryName: statement.name)
        }
        guard let started = PQexec(connection, statement.sql) else { throw connectionError(queryName: statement.name) }
        guard PQresultStatus(started) == PGRES_COPY_IN else {
            // Not a COPY FROM STDIN (or refused): report it as any other result, after draining the rest.
            // `rows(from:)` owns (and frees) the result.
            defer { Self.drainResults(connection) }
            _ = try rows(from: started, queryName: statement.name)
            throw PostgresError(code: .protocolViolation, message: "the statement is not COPY … FROM STDIN", queryName: statement.name)
        }
        PQclear(started)
        var chunk: [UInt8] = []
        var more = true
        while more {
            chunk.removeAll(keepingCapacity: true)
            do {
                more = try next(&chunk)
            } catch {
                // Abort: the server discards everything sent and answers with an error we replace by ours.
                _ = PQputCopyEnd(connection, "aborted by the client: the rows could not be encoded")
                Self.drainResults(connection)
                throw error
            }
            guard Self.put(chunk, on: connection) else {
                Self.drainResults(connection)
                throw connectionError(queryName: statement.name)
            }
        }
        guard PQputCopyEnd(connection, nil) == 1 else {
            Self.drainResults(connection)
            throw connectionError(queryName: statement.name)
        }
        // One result for the COPY, then NULL.
        let result = PQgetResult(connection)
        defer { Self.drainResults(connection) }
        return try rows(from: result, queryName: statement.name)
    }

    /// Hands `bytes` to libpq in pieces of at most 256 KiB (a blocking connection sends each before returning).
    private static func put(_ bytes: [UInt8], on connection: OpaquePointer) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let length = min(256 * 1024, buffer.count - offset)
                let pointer = UnsafeRawPointer(buffer.baseAddress! + offset).assumingMemoryBound(to: CChar.self)
                guard PQputCopyData(connection, pointer, Int32(length)) == 1 else { return false }
                offset += length
            }
            return true
        }
    }

    /// Reads and frees results until libpq reports none, so the connection is ready for the next command.
    private static func drainResults(_ connection: OpaquePointer) {
        while let result = PQgetResult(connection) { PQclear(result) }
    }

    private func rows(from result: OpaquePointer?, queryName: String) throws(PostgresError) -> PostgresRows {
        guard let result else { throw connectionError(queryName: queryName) }
        let owned = PostgresResult(result)
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result: owned)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw serverError(result, queryName: queryName)
        default:
            throw PostgresError(
                code: .protocolViolation, message: "unexpected result status \(PQresultStatus(result).rawValue)", queryName: queryName)
        }
    }

    private func connectionError(queryName: String) -> PostgresError {
        let message = connection.map { String(cString: PQerrorMessage($0)).trimmingTrailingWhitespace() } ?? "no connection"
        return PostgresError(code: .connectionClosed, message: "connection to \(description) lost: \(message)", queryName: queryName)
    }

    private func serverError(_ result: OpaquePointer, queryName: String) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let state = Self.sqlState(of: result)
        let broken = connection.map { PQstatus($0) != CONNECTION_OK } ?? true
        let serverMessage = field(asynctask_pg_diag_message_primary)
        let message =
            serverMessage
            ?? connection.map { String(cString: PQerrorMessage($0)).trimmingTrailingWhitespace() } ?? "unknown error"
        return PostgresError(
            code: broken ? .connectionClosed : .server,
            sqlState: state.map(SQLState.init(rawValue:)),
            message: message,
            detail: field(asynctask_pg_diag_message_detail),
            hint: field(asynctask_pg_diag_message_hint),
            constraintName: field(asynctask_pg_diag_constraint_name),
            queryName: queryName, messageIsFromServer: serverMessage != nil)
    }

    private static func sqlState(of result: OpaquePointer) -> String? {
        PQresultErrorField(result, asynctask_pg_diag_sqlstate).map { String(cString: $0) }
    }

    /// Lays the binds out as the C arrays libpq takes; text values are NUL-terminated (libpq ignores lengths
    /// for text parameters).
    private func withParameterArrays<R>(
        _ binds: [PostgresBind],
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        var storage: [CChar] = []
        storage.reserveCapacity(binds.reduce(0) { $0 + ($1.bytes?.count ?? 0) + 1 })
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var types: [Oid] = []
        for bind in binds {
            types.append(bind.oid)
            formats.append(bind.isBinary ? 1 : 0)
            if let bytes = bind.bytes {
                offsets.append(storage.count)
                lengths.append(Int32(bytes.count))
                storage.append(contentsOf: bytes.map { CChar(bitPattern: $0) })
                storage.append(0)
            } else {
                offsets.append(nil)
                lengths.append(0)
            }
        }
        return storage.withUnsafeBufferPointer { buffer in
            let values: [UnsafePointer<CChar>?] = offsets.map { offset -> UnsafePointer<CChar>? in
                guard let offset, let base = buffer.baseAddress else { return nil }
                return base + offset
            }
            return body(Int32(binds.count), types, values, lengths, formats)
        }
    }
}
