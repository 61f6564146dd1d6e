public import AsyncTaskCore
public import Foundation

/// An attempt as operators see it (CLI, admin API, dashboard): every column except the arguments, which may
/// hold personal data and are never shown.
public struct AttemptView: Sendable, Hashable, Codable {
    public let id: Int64
    public let status: AttemptStatus
    public let target: String
    public let methodName: String
    public let idempotenceToken: String?
    public let encryptor: String?
    public let numAttempts: Int
    /// The attempt's own limit (`max_attempts`); nil means its target's default.
    public let maxAttempts: Int?
    /// The limit in force: its own, else the target default its latest recorded try ran under (nil when no try
    /// has been recorded yet and it has no limit of its own).
    public let effectiveMaxAttempts: Int?
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
    /// The kind of the latest error (`http_status`, `timeout`, `connect`, `operator`…).
    public let lastErrorKind: String?
    /// A bounded excerpt of the target's response to the latest failed call.
    public let lastResponseExcerpt: String?
    /// False when `last_error` belongs to an earlier try of an attempt that has since succeeded: it is history,
    /// not the attempt's state.
    public let lastErrorCurrent: Bool
    /// The newest tries, oldest first (`Schema.keptTries` at most); nil in listings, which leave them out.
    public let tries: [AttemptTry]?

    /// The view of `record`, without its arguments.
    /// - Parameters:
    ///   - errorKind: the `last_error_kind` column, which `AttemptRecord` does not carry.
    ///   - responseExcerpt: the `last_response_excerpt` column.
    ///   - tries: the try history, when the caller read it.
    public init(_ record: AttemptRecord, errorKind: String? = nil, responseExcerpt: String? = nil, tries: [AttemptTry]? = nil) {
        id = record.id
        status = record.status
        target = record.target
        methodName = record.methodName
        idempotenceToken = record.idempotenceToken
        encryptor = record.encryptor
        numAttempts = record.numAttempts
        maxAttempts = record.maxAttempts
        effectiveMaxAttempts = record.maxAttempts ?? tries?.last(where: { $0.maxAttempts != nil })?.maxAttempts
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
        lastErrorKind = errorKind
        lastResponseExcerpt = responseExcerpt
        lastErrorCurrent = record.lastError != nil && record.status != .succeeded
        self.tries = tries
    }

    /// Try numbers below `numAttempts` (and above the oldest kept try's predecessor) with no kept record: their
    /// node stopped or lost its lease before recording an outcome. Tries older than the kept window are not gaps.
    public var missingTries: [Int] {
        guard let tries, let oldest = tries.first?.number else { return [] }
        let kept = Set(tries.map(\.number))
        let last = status == .pending && lockedBy != nil ? numAttempts - 1 : numAttempts
        return last < oldest ? [] : (oldest...last).filter { !kept.contains($0) }
    }

    /// `max_attempts` as text: the attempt's own, or the target default in force and where it came from.
    public var maxAttemptsText: String {
        if let maxAttempts { return String(maxAttempts) }
        if let effectiveMaxAttempts { return "\(effectiveMaxAttempts) (target default)" }
        return "(target default; no try recorded yet)"
    }

    /// Every field as (column name, text), in table order; `time` formats dates.
    public func fields(time: (Date) -> String) -> [(String, String)] {
        func optionalTime(_ date: Date?) -> String { date.map(time) ?? "-" }
        // A succeeded attempt's last_error is what an earlier try hit: say so rather than show it as its state.
        let history = lastError != nil && !lastErrorCurrent ? " (an earlier try; the attempt has since succeeded)" : ""
        return [
            ("id", String(id)), ("status", status.rawValue), ("target", target), ("method_name", methodName),
            ("idempotence_token", idempotenceToken ?? "-"), ("encryptor", encryptor ?? "-"),
            ("num_attempts", String(numAttempts)), ("max_attempts", maxAttemptsText),
            ("priority", String(priority)), ("scheduled_at", optionalTime(scheduledAt)), ("available_at", time(availableAt)),
            ("locked_by", lockedBy ?? "-"), ("created_at", time(createdAt)), ("updated_at", time(updatedAt)),
            ("completed_at", optionalTime(completedAt)), ("last_error", lastError.map { $0 + history } ?? "-"),
            ("last_error_kind", lastErrorKind ?? "-"), ("last_error_at", optionalTime(lastErrorAt)),
            ("last_http_status", lastHttpStatus.map(String.init) ?? "-"),
            ("last_response_excerpt", lastResponseExcerpt ?? "-"),
        ]
    }
}
