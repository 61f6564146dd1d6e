import AsyncTask
import Foundation

/// An attempt as the CLI shows it: every column except the arguments, which may hold personal data.
struct AttemptView: Encodable {
    let id: Int64
    let status: String
    let target: String
    let methodName: String
    let idempotenceToken: String?
    let encryptor: String?
    let numAttempts: Int
    let maxAttempts: Int?
    let priority: Int
    let scheduledAt: Date?
    let availableAt: Date
    let lockedBy: String?
    let createdAt: Date
    let updatedAt: Date
    let completedAt: Date?
    let lastError: String?
    let lastErrorAt: Date?
    let lastHttpStatus: Int?

    init(_ record: AttemptRecord) {
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

    var fields: [(String, String)] {
        func time(_ date: Date?) -> String { date.map(OutputFormat.timestamp) ?? "-" }
        return [
            ("id", String(id)), ("status", status), ("target", target), ("method_name", methodName),
            ("idempotence_token", idempotenceToken ?? "-"), ("encryptor", encryptor ?? "-"),
            ("num_attempts", String(numAttempts)), ("max_attempts", maxAttempts.map(String.init) ?? "(target default)"),
            ("priority", String(priority)), ("scheduled_at", time(scheduledAt)), ("available_at", time(availableAt)),
            ("locked_by", lockedBy ?? "-"), ("created_at", time(createdAt)), ("updated_at", time(updatedAt)),
            ("completed_at", time(completedAt)), ("last_error", lastError ?? "-"), ("last_error_at", time(lastErrorAt)),
            ("last_http_status", lastHttpStatus.map(String.init) ?? "-"),
        ]
    }
}
