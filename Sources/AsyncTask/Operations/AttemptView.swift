public import Foundation

/// An attempt as operators see it (CLI, admin API, dashboard): every column except the arguments, which may
/// hold personal data and are never shown.
public struct AttemptView: Sendable, Hashable, Codable {
    public let id: Int64
    public let status: String
    public let target: String
    public let methodName: String
    public let idempotenceToken: String?
    public let encryptor: String?
    public let numAttempts: Int
    public let maxAttempts: Int?
    public let priority: Int
    public let scheduledAt: Date?
    public let availableAt: Date
    public let lockedBy: String?
    public let createdAt: Date
    public let updatedAt: Date
    public let completedAt: Date?
    public let lastError: String?
    public let lastErrorAt: Date?
    public let lastHttpStatus: Int?

    /// The view of `record`, without its arguments.
    public init(_ record: AttemptRecord) {
        id = record.id
        status = record.status.rawValue
        target = record.target
        methodName = record.methodName
        idempotenceToken = record.idempotenceToken
        encryptor = record.encryptor
        numAttempts = record.numAttempts
        maxAttempts = record.maxAttempts
        priority = record.priority
        scheduledAt = record.scheduledAt
        availableAt = record.availableAt
        lockedBy = record.lockedBy?.uuidString.lowercased()
        createdAt = record.createdAt
        updatedAt = record.updatedAt
        completedAt = record.completedAt
        lastError = record.lastError
        lastErrorAt = record.lastErrorAt
        lastHttpStatus = record.lastHTTPStatus
    }

    /// Every field as (column name, text), in table order; `time` formats dates.
    public func fields(time: (Date) -> String) -> [(String, String)] {
        func optionalTime(_ date: Date?) -> String { date.map(time) ?? "-" }
        return [
            ("id", String(id)), ("status", status), ("target", target), ("method_name", methodName),
            ("idempotence_token", idempotenceToken ?? "-"), ("encryptor", encryptor ?? "-"),
            ("num_attempts", String(numAttempts)), ("max_attempts", maxAttempts.map(String.init) ?? "(target default)"),
            ("priority", String(priority)), ("scheduled_at", optionalTime(scheduledAt)), ("available_at", time(availableAt)),
            ("locked_by", lockedBy ?? "-"), ("created_at", time(createdAt)), ("updated_at", time(updatedAt)),
            ("completed_at", optionalTime(completedAt)), ("last_error", lastError ?? "-"), ("last_error_at", optionalTime(lastErrorAt)),
            ("last_http_status", lastHttpStatus.map(String.init) ?? "-"),
        ]
    }
}
