import Foundation
public import PostgresClient

/// Re-encrypts pending attempts from older keys to the key ring's primary key, online (`asynctask keys rotate`).
///
/// Works in batches of short transactions: each batch locks up to `batchSize` rows with `FOR UPDATE SKIP LOCKED`
/// (so a node claiming at that moment skips them instead of waiting, and the rotation skips rows a claim is
/// locking), re-encrypts them in this process and writes them back in one statement. A row a node holds a lease
/// on may be rotated: the node already has its arguments, its fenced outcome write does not touch `method_args`,
/// and a later try reads the new envelope. Rows skipped because they were locked are picked up by a later pass.
public struct KeyRotation: Sendable {
    /// A row that could not be re-encrypted (unknown key, failed authentication, malformed envelope).
    public struct Failure: Sendable, Hashable {
        /// The attempt.
        public let id: Int64
        /// Why, naming the key id (never arguments or keys).
        public let error: EncryptionError
    }

    /// What a rotation did.
    public struct Summary: Sendable {
        /// Rows re-encrypted to the primary key.
        public var rotated = 0
        /// Transactions committed.
        public var batches = 0
        /// Rows left as they were because they could not be decrypted.
        public var failures: [Failure] = []
        /// Rows still on an old key after the last pass because they stayed locked (run again to finish them).
        public var remaining = 0
    }

    // Candidates: pending rows whose encryptor is set and is not the primary. Keyset order by id so each pass
    // visits every row once; failed ids are excluded so they are not retried within a run.
    static let selectBatch = PostgresStatement(
        name: "rotate_select_batch",
        sql: """
            SELECT id, target, method_name, method_args::text AS method_args, encryptor
            FROM async_task_attempts
            WHERE status = 'pending' AND encryptor IS NOT NULL AND encryptor <> $1
              AND id > $2 AND id <> ALL($3::bigint[])
            ORDER BY id
            LIMIT $4
            FOR UPDATE SKIP LOCKED
            """)

    static let update = PostgresStatement(
        name: "rotate_update_batch",
        sql: """
            UPDATE async_task_attempts t
            SET method_args = u.method_args::jsonb, encryptor = $3, updated_at = now()
            FROM unnest($1::bigint[], $2::text[]) AS u(id, method_args)
            WHERE t.id = u.id
            """)

    static let countRemaining = PostgresStatement(
        name: "rotate_count_remaining",
        sql: """
            SELECT count(*) AS n FROM async_task_attempts
            WHERE status = 'pending' AND encryptor IS NOT NULL AND encryptor <> $1 AND id <> ALL($2::bigint[])
            """)

    /// The encryptor whose primary key rows are moved to.
    public let encryptor: AESGCMEncryptor
    /// Rows per transaction.
    public let batchSize: Int
    /// Passes over the table at most (later passes only find rows that were locked during earlier ones).
    public let maxPasses: Int
    /// Pause between passes, so locks held by claims are released.
    public let passPause: Duration

    /// Creates a rotation to `encryptor`'s primary key.
    public init(encryptor: AESGCMEncryptor, batchSize: Int = 500, maxPasses: Int = 20, passPause: Duration = .milliseconds(200)) {
        self.encryptor = encryptor
        self.batchSize = max(1, batchSize)
        self.maxPasses = max(1, maxPasses)
        self.passPause = passPause
    }

    /// Rotates every pending row it can; `progress` sees the running summary after each batch.
    /// - Throws: `PostgresError` when the database fails (batches already committed stay rotated).
    public func run(on connection: PostgresConnection, progress: (Summary) -> Void = { _ in }) async throws -> Summary {
        let primary = AESGCMEncryptor.encryptorID(keyID: encryptor.keyRing.primaryID)
        var summary = Summary()
        for pass in 1...maxPasses {
            var cursor: Int64 = 0
            while true {
                let failedIDs = summary.failures.map(\.id)
                let (count, last, failures) = try await connection.withTransaction { connection in
                    try await rotateBatch(after: cursor, excluding: failedIDs, primary: primary, on: connection)
                }
                guard let last else { break }
                cursor = last
                summary.rotated += count
                summary.failures += failures
                summary.batches += 1
                progress(summary)
            }
            summary.remaining = try await connection.query(Self.countRemaining, [primary, summary.failures.map(\.id)]).single().decode(Int.self, "n")
            if summary.remaining == 0 || pass == maxPasses { break }
            try await Task.sleep(for: passPause)
        }
        return summary
    }

    /// One batch inside the caller's transaction: returns rows rotated, the last id seen (nil when none) and
    /// the rows that could not be decrypted.
    private func rotateBatch(
        after cursor: Int64, excluding failedIDs: [Int64], primary: String, on connection: PostgresConnection
    ) async throws -> (Int, Int64?, [Failure]) {
        let rows = try await connection.query(Self.selectBatch, [primary, cursor, failedIDs, Int32(clamping: batchSize)])
        var ids: [Int64] = []
        var arguments: [String] = []
        var failures: [Failure] = []
        var last: Int64?
        for row in rows {
            let id = try row.decode(Int64.self, "id")
            last = id
            let stored = try row.decode(String.self, "method_args")
            let current = try row.decode(String.self, "encryptor")
            do {
                let sealed = try encryptor.reencrypt(
                    Data(stored.utf8), id: current, target: try row.decode(String.self, "target"),
                    method: try row.decode(String.self, "method_name"))
                ids.append(id)
                arguments.append(String(decoding: sealed.methodArgs, as: UTF8.self))
            } catch let error as EncryptionError {
                failures.append(Failure(id: id, error: error))
            }
        }
        if !ids.isEmpty {
            try await connection.query(Self.update, [ids, arguments, primary])
        }
        return (ids.count, last, failures)
    }
}
