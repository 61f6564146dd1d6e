import Foundation
public import PostgresClient

/// Enqueues attempts on the caller's connection, inside the caller's transaction: the outbox half of AsyncTask.
///
/// Because the insert shares the caller's transaction, a rollback removes the attempt together with the
/// business rows, and a commit publishes both at once. Workers never see uncommitted attempts.
///
/// With an `AESGCMEncryptor`, arguments are encrypted before they leave the process: `method_args` holds the
/// envelope and `encryptor` names the key (`aes-256-gcm:k2`).
public struct AttemptQueue: Sendable {
    /// Encrypts arguments before the insert; `NullEncryptor` stores them as they are.
    public let encryptor: any Encryptor

    /// Creates a queue.
    /// - Parameter encryptor: how arguments are stored (default: plaintext).
    public init(encryptor: any Encryptor = NullEncryptor()) {
        self.encryptor = encryptor
    }

    // ON CONFLICT names the partial unique index by its columns and predicate; rows without a token never
    // conflict. `available_at` is left to its default / the scheduling trigger.
    static let insertOne = PostgresStatement(
        name: "enqueue_attempt",
        sql: """
            INSERT INTO async_task_attempts
                (target, method_name, method_args, idempotence_token, scheduled_at, priority, max_attempts, encryptor, ordering_key,
                 concurrency_key)
            VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::text, $9, $10)
            ON CONFLICT (target, method_name, idempotence_token) WHERE idempotence_token IS NOT NULL DO NOTHING
            RETURNING id
            """)

    // Only after a conflict (the common, created case is the one statement above). A plaintext producer passes
    // its arguments as $4 and plaintext rows compare as jsonb here; an encrypting producer passes NULL (its
    // plaintext never goes to the server) and gets the stored text back to decrypt and compare itself.
    static let findByToken = PostgresStatement(
        name: "find_attempt_by_token",
        sql: """
            SELECT id, encryptor,
                   CASE WHEN encryptor IS NULL AND $4::jsonb IS NOT NULL THEN method_args = $4::jsonb END AS same_arguments,
                   CASE WHEN encryptor IS NOT NULL OR $4::jsonb IS NULL THEN method_args::text END AS stored_arguments
            FROM async_task_attempts
            WHERE target = $1 AND method_name = $2 AND idempotence_token = $3
            """)

    // One statement for the whole batch: arrays unnested in input order (WITH ORDINALITY + ORDER BY), so ids,
    // drawn from the identity sequence in insertion order, come back ascending in input order.
    static let insertBatch = PostgresStatement(
        name: "enqueue_attempts_batch",
        sql: """
            INSERT INTO async_task_attempts
                (target, method_name, method_args, idempotence_token, scheduled_at, priority, max_attempts, encryptor, ordering_key,
                 concurrency_key)
            SELECT u.target, u.method_name, u.method_args::jsonb, u.token, u.scheduled_at, u.priority, u.max_attempts, $8::text,
                   u.ordering_key, u.concurrency_key
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::smallint[], $7::integer[], $9::text[],
                        $10::text[])
                 WITH ORDINALITY AS u(target, method_name, method_args, token, scheduled_at, priority, max_attempts, ordering_key,
                                      concurrency_key, ord)
            ORDER BY u.ord
            ON CONFLICT (target, method_name, idempotence_token) WHERE idempotence_token IS NOT NULL DO NOTHING
            RETURNING id, idempotence_token
            """)

    static let findBatchByTokens = PostgresStatement(
        name: "find_attempts_by_tokens",
        sql: """
            SELECT a.id, a.target, a.method_name, a.idempotence_token
            FROM unnest($1::text[], $2::text[], $3::text[]) AS k(target, method_name, token)
            JOIN async_task_attempts a
              ON a.target = k.target AND a.method_name = k.method_name AND a.idempotence_token = k.token
            """)

    // The bulk path for batches without idempotence tokens (COPY cannot say ON CONFLICT): reserve ids from the
    // identity sequence, then COPY the rows with those ids, so the caller still gets ids in input order.
    // The sequence is looked up once (MATERIALIZED): `nextval(pg_get_serial_sequence(…))` per row resolves the
    // name every time, 28 ms instead of 3 ms for 10,000 ids.
    static let reserveIDs = PostgresStatement(
        name: "reserve_attempt_ids",
        sql: """
            WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('async_task_attempts', 'id')::regclass AS sequence)
            SELECT nextval(s.sequence) AS id FROM s, generate_series(1, $1::integer)
            """)

    static let copyAttempts = PostgresStatement(
        name: "copy_attempts",
        sql: """
            COPY async_task_attempts
                (id, target, method_name, method_args, scheduled_at, priority, max_attempts, encryptor, ordering_key, concurrency_key)
            FROM STDIN
            """, isPrepared: false)

    /// Batches at least this large without tokens are inserted with COPY (two round trips, but about twice
    /// the rows per second); smaller ones with one `INSERT … SELECT FROM unnest`.
    static let copyThreshold = 64

    /// Inserts one attempt and returns its id.
    ///
    /// When an attempt with the same idempotence token already exists for the same target and method, nothing
    /// is inserted and the existing attempt's id is returned: the new arguments, schedule and priority are
    /// discarded and the existing row is left exactly as it is (whatever its status). Use
    /// `enqueueReporting(_:on:)` to learn whether that happened and whether the arguments differed.
    /// - Parameter connection: the caller's connection, normally inside `withTransaction`.
    /// - Throws: `EncryptionError` when the arguments cannot be encrypted; `PostgresError` from the insert (e.g. a
    ///   check constraint), with the statement's name.
    public func enqueue(_ attempt: Attempt, on connection: PostgresConnection) async throws -> Int64 {
        try await enqueueReporting(attempt, on: connection).id
    }

    /// Inserts one attempt, as `enqueue(_:on:)` does, and reports whether it was created or already existed.
    ///
    /// A new row costs the same single statement as `enqueue(_:on:)`. Only when the token already exists is the
    /// existing row read, and its arguments compared with `attempt`'s: as `jsonb` in PostgreSQL for plaintext
    /// rows; for encrypted rows (or an encrypting queue) by decrypting the stored envelope here and comparing the
    /// parsed JSON values, so plaintext arguments of an encrypting producer never reach the server. Stored
    /// arguments under a key this queue's encryptor cannot open come back as `.notComparable`.
    /// - Throws: as `enqueue(_:on:)`.
    public func enqueueReporting(_ attempt: Attempt, on connection: PostgresConnection) async throws -> EnqueueResult {
        let arguments = try encryptor.encrypt(attempt.argumentsJSON, target: attempt.target, method: attempt.methodName)
        let rows = try await connection.query(
            Self.insertOne,
            [
                attempt.target, attempt.methodName, PostgresBind.jsonb(arguments), attempt.idempotenceToken,
                attempt.scheduledAt, attempt.priority, attempt.maxAttempts, encryptor.id, attempt.orderingKey, attempt.concurrencyKey,
            ])
        if let row = rows.first { return EnqueueResult(id: try row.decode(Int64.self, "id"), created: true, arguments: nil) }
        // The token exists: in READ COMMITTED this new statement sees the committed row that won the race.
        let plaintext: PostgresBind? = encryptor.id == nil ? PostgresBind.jsonb(attempt.argumentsJSON) : nil
        guard let token = attempt.idempotenceToken,
            let existing = try await connection.query(Self.findByToken, [attempt.target, attempt.methodName, token, plaintext]).first
        else {
            throw PostgresError(
                code: .server, message: "enqueue inserted nothing and found no attempt with the same token", queryName: Self.insertOne.name)
        }
        let id = try existing.decode(Int64.self, "id")
        if let same = try existing.decode(Bool?.self, "same_arguments") {
            return EnqueueResult(id: id, created: false, arguments: same ? .same : .different)
        }
        let stored = Data(try existing.decode(String.self, "stored_arguments").utf8)
        let storedPlaintext: Data
        if let storedEncryptor = try existing.decode(String?.self, "encryptor") {
            do {
                storedPlaintext = try encryptor.decrypt(stored, id: storedEncryptor, target: attempt.target, method: attempt.methodName)
            } catch {
                return EnqueueResult(
                    id: id, created: false,
                    arguments: .notComparable(
                        reason: "the stored arguments are encrypted (\(storedEncryptor)) and this queue cannot decrypt them: \(error.description)"))
            }
        } else {
            storedPlaintext = stored
        }
        return EnqueueResult(id: id, created: false, arguments: Self.sameJSON(storedPlaintext, attempt.argumentsJSON) ? .same : .different)
    }

    /// Whether two JSON texts hold equal values (key order and spacing aside; numbers by value), the way
    /// `jsonb` equality sees them. Used only for arguments the server must not see in plaintext.
    static func sameJSON(_ left: Data, _ right: Data) -> Bool {
        guard let a = try? JSONSerialization.jsonObject(with: left, options: [.fragmentsAllowed]),
            let b = try? JSONSerialization.jsonObject(with: right, options: [.fragmentsAllowed])
        else { return left == right }
        return sameValue(a, b)
    }

    /// Equality of two values from `JSONSerialization`: objects by keys, arrays in order, numbers by value.
    private static func sameValue(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            x.count == y.count && x.allSatisfy { key, value in y[key].map { sameValue(value, $0) } ?? false }
        case (let x as [Any], let y as [Any]):
            x.count == y.count && zip(x, y).allSatisfy { sameValue($0, $1) }
        case (let x as String, let y as String):
            x == y
        case (is NSNull, is NSNull):
            true
        case (let x as NSNumber, let y as NSNumber):
            x.isEqual(to: y)
        default:
            false
        }
    }

    /// Inserts many attempts in one statement and returns their ids in input order.
    ///
    /// Batches of 64 or more attempts without idempotence tokens are streamed with `COPY` under ids reserved
    /// from the identity sequence (twice the rows per second of an `INSERT`); others use one `INSERT … SELECT`.
    /// Either way the rows share the caller's transaction and wake idle nodes once.
    ///
    /// Tokens that already exist (or repeat within the batch) resolve to the existing attempt's id, as in
    /// `enqueue(_:on:)`; their new arguments are discarded.
    /// - Throws: `EncryptionError` when arguments cannot be encrypted (nothing is inserted); `PostgresError`.
    public func enqueue(_ attempts: [Attempt], on connection: PostgresConnection) async throws -> [Int64] {
        guard !attempts.isEmpty else { return [] }
        if attempts.count >= Self.copyThreshold, attempts.allSatisfy({ $0.idempotenceToken == nil }) {
            return try await copy(attempts, on: connection)
        }
        var arguments: [String] = []
        arguments.reserveCapacity(attempts.count)
        for attempt in attempts {
            let stored = try encryptor.encrypt(attempt.argumentsJSON, target: attempt.target, method: attempt.methodName)
            arguments.append(String(decoding: stored, as: UTF8.self))
        }
        let rows = try await connection.query(
            Self.insertBatch,
            [
                attempts.map(\.target), attempts.map(\.methodName), arguments,
                attempts.map(\.idempotenceToken), attempts.map(\.scheduledAt), attempts.map(\.priority),
                attempts.map { $0.maxAttempts.map { Int32(clamping: $0) } }, encryptor.id, attempts.map(\.orderingKey),
                attempts.map(\.concurrencyKey),
            ])
        var inserted: [(id: Int64, token: String?)] = []
        inserted.reserveCapacity(rows.count)
        for row in rows {
            inserted.append((try row.decode(Int64.self, "id"), try row.decode(String?.self, "idempotence_token")))
        }
        inserted.sort { $0.id < $1.id }
        if inserted.count == attempts.count { return inserted.map(\.id) }

        // Some tokens conflicted. Inserted rows are in input order; a tokened input is inserted only if it is
        // the first occurrence of its key and no such row existed.
        struct Key: Hashable { let target: String, method: String, token: String }
        let tokened = attempts.compactMap { a in a.idempotenceToken.map { Key(target: a.target, method: a.methodName, token: $0) } }
        let found = try await connection.query(Self.findBatchByTokens, [tokened.map(\.target), tokened.map(\.method), tokened.map(\.token)])
        var existing: [Key: Int64] = [:]
        for row in found {
            let key = Key(
                target: try row.decode(String.self, "target"), method: try row.decode(String.self, "method_name"),
                token: try row.decode(String.self, "idempotence_token"))
            existing[key] = try row.decode(Int64.self, "id")
        }
        let insertedIDs = Set(inserted.map(\.id))
        var next = inserted.makeIterator()
        var seen: [Key: Int64] = [:]
        var ids: [Int64] = []
        ids.reserveCapacity(attempts.count)
        for attempt in attempts {
            guard let token = attempt.idempotenceToken else {
                guard let id = next.next()?.id else { break }
                ids.append(id)
                continue
            }
            let key = Key(target: attempt.target, method: attempt.methodName, token: token)
            if let id = seen[key] {
                ids.append(id)
                continue
            }
            guard let id = existing[key] else { break }
            if insertedIDs.contains(id) { _ = next.next() }
            seen[key] = id
            ids.append(id)
        }
        guard ids.count == attempts.count else {
            throw PostgresError(code: .server, message: "batch enqueue could not match every attempt to a row", queryName: Self.insertBatch.name)
        }
        return ids
    }
    /// Inserts token-less attempts with COPY under ids reserved up front; returns the ids in input order.
    private func copy(_ attempts: [Attempt], on connection: PostgresConnection) async throws -> [Int64] {
        let arguments = try attempts.map { try encryptor.encrypt($0.argumentsJSON, target: $0.target, method: $0.methodName) }
        let ids = try await connection.query(Self.reserveIDs, [attempts.count]).map { try $0.decode(Int64.self, "id") }.sorted()
        guard ids.count == attempts.count else {
            throw PostgresError(code: .server, message: "reserved \(ids.count) ids for \(attempts.count) attempts", queryName: Self.reserveIDs.name)
        }
        let encryptorID = encryptor.id
        let inserted = try await connection.copy(Self.copyAttempts, count: attempts.count) { index in
            let attempt = attempts[index]
            return [
                ids[index], attempt.target, attempt.methodName, PostgresBind.jsonb(arguments[index]), attempt.scheduledAt,
                attempt.priority, attempt.maxAttempts.map { Int32(clamping: $0) }, encryptorID, attempt.orderingKey, attempt.concurrencyKey,
            ]
        }
        guard inserted == attempts.count else {
            throw PostgresError(code: .server, message: "COPY inserted \(inserted) of \(attempts.count) attempts", queryName: Self.copyAttempts.name)
        }
        return ids
    }
}
