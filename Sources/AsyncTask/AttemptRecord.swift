public import AsyncTaskCore
public import Foundation
public import PostgresClient

/// An attempt as stored: every column of `async_task_attempts` (DESIGN §2).
///
/// `methodArgs` is the stored text (ciphertext envelope when `encryptor` is set); it is kept out of
/// `description` so that logging a record never logs arguments.
public struct AttemptRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    public var id: Int64
    public var idempotenceToken: String?
    public var status: AttemptStatus
    public var target: String
    public var methodName: String
    public var methodArgs: String
    public var encryptor: String?
    public var numAttempts: Int
    public var maxAttempts: Int?
    public var scheduledAt: Date?
    public var completedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var availableAt: Date
    public var lockedBy: UUID?
    public var priority: Int
    public var lastError: String?
    public var lastErrorAt: Date?
    public var lastHTTPStatus: Int?
    /// The ordering key (schema v9): attempts of one target with the same key run one at a time in id order.
    public var orderingKey: String?
    /// True on a failed head that holds its ordering key (`ordering.on_failure: block`) until an operator
    /// retries it or unblocks the key.
    public var keyBlocked: Bool
    /// The concurrency key (schema v10): at most `targets.<name>.key_concurrency` of one key in flight at once.
    public var concurrencyKey: String?

    /// The columns `init(row:)` reads, for SELECT lists.
    public static let columns = """
        id, idempotence_token, status, target, method_name, method_args::text AS method_args, encryptor, num_attempts,
        max_attempts, scheduled_at, completed_at, created_at, updated_at, available_at, locked_by, priority,
        last_error, last_error_at, last_http_status, ordering_key, key_blocked, concurrency_key
        """

    /// Decodes a row selected with `columns`.
    /// - Throws: `PostgresError` (`.decoding`) naming the column, including an unknown status.
    public init(row: PostgresRow) throws(PostgresError) {
        id = try row.decode(Int64.self, "id")
        idempotenceToken = try row.decode(String?.self, "idempotence_token")
        let statusText = try row.decode(String.self, "status")
        guard let status = AttemptStatus(rawValue: statusText) else {
            throw PostgresError(code: .decoding, message: "column 'status' holds unknown status '\(statusText)'")
        }
        self.status = status
        target = try row.decode(String.self, "target")
        methodName = try row.decode(String.self, "method_name")
        methodArgs = try row.decode(String.self, "method_args")
        encryptor = try row.decode(String?.self, "encryptor")
        numAttempts = try row.decode(Int.self, "num_attempts")
        maxAttempts = try row.decode(Int?.self, "max_attempts")
        scheduledAt = try row.decode(Date?.self, "scheduled_at")
        completedAt = try row.decode(Date?.self, "completed_at")
        createdAt = try row.decode(Date.self, "created_at")
        updatedAt = try row.decode(Date.self, "updated_at")
        availableAt = try row.decode(Date.self, "available_at")
        lockedBy = try row.decode(UUID?.self, "locked_by")
        priority = try row.decode(Int.self, "priority")
        lastError = try row.decode(String?.self, "last_error")
        lastErrorAt = try row.decode(Date?.self, "last_error_at")
        lastHTTPStatus = try row.decode(Int?.self, "last_http_status")
        orderingKey = try row.decode(String?.self, "ordering_key")
        keyBlocked = try row.decode(Bool.self, "key_blocked")
        concurrencyKey = try row.decode(String?.self, "concurrency_key")
    }

    public var description: String {
        "attempt \(id) \(target).\(methodName) \(status) (tries: \(numAttempts))"
    }
}
