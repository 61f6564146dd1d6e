import AsyncTaskCore
public import Foundation

/// A request to call `method` on `target` later, as a producer enqueues it.
///
/// Build one with `Encodable` arguments (they must encode to a JSON object) or with raw JSON, then hand it to
/// `AttemptQueue.enqueue` inside your own transaction. Validation happens here, so a bad attempt fails at the
/// producer with an error naming the field, never later in a worker.
public struct Attempt: Sendable, Hashable {
    /// The target *name* from the workers' config (e.g. `OrderClient`), never a URL.
    public let target: String
    /// The method to call on the target (e.g. `fulfill`).
    public let methodName: String
    /// The arguments: UTF-8 JSON text of an object.
    public let argumentsJSON: Data
    /// The caller's key; unique per (target, method). Sent to the target as `Idempotency-Key`.
    public let idempotenceToken: String?
    /// Not before this time; nil means as soon as possible.
    public let scheduledAt: Date?
    /// Lower runs first; default 0.
    public let priority: Int16
    /// Overrides the target's configured number of tries.
    public let maxAttempts: Int?
    /// Attempts of one target with the same key run one at a time, in id (enqueue) order: the next is not called
    /// before this one has a final outcome (`targets.<name>.ordering.on_failure` says what a failure does).
    /// Typically the aggregate's id (`order-42`); nil runs unordered.
    public let orderingKey: String?
    /// At most `targets.<name>.key_concurrency` attempts of one target with the same key are in flight at once,
    /// from all nodes together, in any order: typically the customer or tenant, so one large customer cannot take
    /// every slot. nil is never limited.
    public let concurrencyKey: String?

    /// Creates an attempt with arguments encoded by `JSONEncoder`.
    /// - Throws: `AttemptValidationError` naming the field that is invalid.
    public init<Arguments: Encodable>(
        target: String,
        method: String,
        arguments: Arguments,
        idempotenceToken: String? = nil,
        scheduledAt: Date? = nil,
        priority: Int16 = 0,
        maxAttempts: Int? = nil,
        orderingKey: String? = nil,
        concurrencyKey: String? = nil
    ) throws(AttemptValidationError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let json: Data
        do {
            json = try encoder.encode(arguments)
        } catch {
            throw AttemptValidationError(field: "method_args", reason: "the arguments do not encode as JSON: \(error)")
        }
        try self.init(
            target: target, method: method, argumentsJSON: json, idempotenceToken: idempotenceToken,
            scheduledAt: scheduledAt, priority: priority, maxAttempts: maxAttempts, orderingKey: orderingKey,
            concurrencyKey: concurrencyKey)
    }

    /// Creates an attempt from raw JSON arguments (e.g. from the command line).
    /// - Throws: `AttemptValidationError` naming the field that is invalid.
    public init(
        target: String,
        method: String,
        argumentsJSON: Data,
        idempotenceToken: String? = nil,
        scheduledAt: Date? = nil,
        priority: Int16 = 0,
        maxAttempts: Int? = nil,
        orderingKey: String? = nil,
        concurrencyKey: String? = nil
    ) throws(AttemptValidationError) {
        try Self.validateName(target, field: "target")
        try Self.validateName(method, field: "method_name")
        guard MethodName.isValid(method) else {
            throw AttemptValidationError(
                field: "method_name",
                reason: "'\(method)' is not a callable method name: [A-Za-z_][A-Za-z0-9_.-], at most \(MethodName.maxLength) characters, no '..'")
        }
        guard let object = try? JSONSerialization.jsonObject(with: argumentsJSON, options: [.fragmentsAllowed]) else {
            throw AttemptValidationError(field: "method_args", reason: "not valid JSON")
        }
        guard object is [String: Any] else {
            throw AttemptValidationError(field: "method_args", reason: "must be a JSON object ({…}), got \(Self.jsonKind(object))")
        }
        guard !argumentsJSON.contains(0) else {
            throw AttemptValidationError(field: "method_args", reason: "contains a NUL byte")
        }
        guard !Self.containsNULCharacter(object) else {
            throw AttemptValidationError(field: "method_args", reason: "contains \\u0000, which PostgreSQL jsonb cannot store")
        }
        if let idempotenceToken {
            guard !idempotenceToken.isEmpty else {
                throw AttemptValidationError(field: "idempotence_token", reason: "is empty; pass nil for no token")
            }
            guard idempotenceToken.utf8.count <= 1024, !idempotenceToken.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw AttemptValidationError(
                    field: "idempotence_token", reason: "must be at most 1024 bytes without control characters (it is sent as an HTTP header)")
            }
        }
        if let scheduledAt {
            let seconds = scheduledAt.timeIntervalSince1970
            // PostgreSQL's timestamptz covers 4713 BC to 294276 AD; keep to years 1970…9999.
            guard seconds.isFinite, seconds >= 0, seconds < 253_402_300_800 else {
                throw AttemptValidationError(
                    field: "scheduled_at", reason: "is not a valid time between 1970 and 9999 (\(seconds) seconds since 1970)")
            }
        }
        if let maxAttempts, maxAttempts < 1 || maxAttempts > 1_000_000 {
            throw AttemptValidationError(field: "max_attempts", reason: "must be between 1 and 1000000, got \(maxAttempts)")
        }
        if let orderingKey { try Self.validateName(orderingKey, field: "ordering_key") }
        if let concurrencyKey { try Self.validateName(concurrencyKey, field: "concurrency_key") }
        self.target = target
        self.methodName = method
        self.argumentsJSON = argumentsJSON
        self.idempotenceToken = idempotenceToken
        self.scheduledAt = scheduledAt
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.orderingKey = orderingKey
        self.concurrencyKey = concurrencyKey
    }

    private static func validateName(_ value: String, field: String) throws(AttemptValidationError) {
        guard !value.isEmpty else { throw AttemptValidationError(field: field, reason: "is empty") }
        guard value.utf8.count <= 255 else { throw AttemptValidationError(field: field, reason: "is longer than 255 bytes") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw AttemptValidationError(field: field, reason: "contains control characters")
        }
    }

    /// Whether a parsed JSON value holds U+0000 in a string or key (written `\u0000` in the JSON text).
    private static func containsNULCharacter(_ value: Any) -> Bool {
        switch value {
        case let string as String: string.unicodeScalars.contains { $0.value == 0 }
        case let object as [String: Any]: object.contains { containsNULCharacter($0.key) || containsNULCharacter($0.value) }
        case let array as [Any]: array.contains { containsNULCharacter($0) }
        default: false
        }
    }

    private static func jsonKind(_ value: Any) -> String {
        switch value {
        case is [Any]: "an array"
        case is String: "a string"
        case is NSNull: "null"
        case is NSNumber: "a number or boolean"
        default: "another JSON value"
        }
    }
}

/// An attempt that cannot be enqueued, with the field at fault.
public struct AttemptValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The column/field name, as in the table (`target`, `method_name`, `method_args`, …).
    public let field: String
    /// What is wrong with it.
    public let reason: String

    /// Creates the error.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "invalid \(field): \(reason)" }
}
