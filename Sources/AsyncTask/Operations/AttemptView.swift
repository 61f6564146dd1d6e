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
    /// The limit in force: its own, else the target default its newest recorded try ran under, else (before a
    /// try is recorded) the target default of the live nodes serving the target when they agree; nil when none
    /// of these is known.
    public let effectiveMaxAttempts: Int?
    /// The `max_attempts` defaults the live nodes serving the target published (`NodeTargetDefaults`),
    /// ascending: one value when they agree, several during a rolling change of the config, none when no live
    /// node serves the target.
    public let targetMaxAttempts: [Int]
    /// Where `effectiveMaxAttempts` came from; nil when it is not known.
    public let effectiveMaxAttemptsSource: MaxAttemptsSource?

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
    ///   - triedMaxAttempts: the limit the newest recorded try ran under (else taken from `tries`).
    ///   - targetMaxAttempts: the live nodes' defaults for the target (`NodeTargetDefaults`).
    public init(
        _ record: AttemptRecord, errorKind: String? = nil, responseExcerpt: String? = nil, tries: [AttemptTry]? = nil,
        triedMaxAttempts: Int? = nil, targetMaxAttempts: [Int] = []
    ) {
        id = record.id
        status = record.status
        target = record.target
        methodName = record.methodName
        idempotenceToken = record.idempotenceToken
        encryptor = record.encryptor
        numAttempts = record.numAttempts
        maxAttempts = record.maxAttempts
        self.targetMaxAttempts = targetMaxAttempts
        let limit: (value: Int, source: MaxAttemptsSource)? =
            if let own = record.maxAttempts {
                (own, .attempt)
            } else if let tried = triedMaxAttempts ?? tries?.last(where: { $0.maxAttempts != nil })?.maxAttempts {
                (tried, .lastTry)
            } else if targetMaxAttempts.count == 1 {
                (targetMaxAttempts[0], .liveNodes)
            } else {
                nil
            }
        effectiveMaxAttempts = limit?.value
        effectiveMaxAttemptsSource = limit?.source
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
        if effectiveMaxAttemptsSource == .lastTry, let effectiveMaxAttempts { return "\(effectiveMaxAttempts) (target default)" }
        switch targetMaxAttempts.count {
        case 0: return "(target default; no try recorded yet and no live node serves \(target))"
        case 1: return "\(targetMaxAttempts[0]) (target default of the live nodes serving \(target); no try recorded yet)"
        default:
            return
                "\(targetMaxAttempts.map(String.init).joined(separator: " or ")) (target default: the live nodes serving \(target) differ; no try recorded yet)"
        }
    }

    /// The limit for a column of tries (`3/12`): the effective one, the live nodes' values when they differ
    /// (`5|12`), else `-`.
    public var maxAttemptsShort: String {
        if let effectiveMaxAttempts { return String(effectiveMaxAttempts) }
        return targetMaxAttempts.isEmpty ? "-" : targetMaxAttempts.map(String.init).joined(separator: "|")
    }

    /// `last_error` for a listing's column: marked as history when it belongs to an earlier try of an attempt
    /// that has since succeeded, so it never reads as the attempt's state.
    public var lastErrorSummary: String? {
        lastError.map { lastErrorCurrent ? $0 : "(earlier try) " + $0 }
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

extension AttemptView {
    /// Where the limit in force comes from.
    public enum MaxAttemptsSource: String, Sendable, Hashable, Codable {
        /// The attempt's own `max_attempts`.
        case attempt
        /// The target default its newest recorded try ran under.
        case lastTry = "last_try"
        /// The target default the live nodes serving the target published, before any try was recorded.
        case liveNodes = "live_nodes"
    }
}
