import AsyncTaskCore

/// One call of a target for one try of an attempt: what the row and the claim provide.
public struct TargetCall: Sendable, Hashable {
    /// The attempt's id (`async_task_attempts.id`); also the JSON-RPC `id`.
    public var attemptID: Int64
    /// Which try this is (`num_attempts` after the claim), 1-based.
    public var attemptNumber: Int
    /// The method to call; checked with ``MethodName``.
    public var methodName: String
    /// The arguments as JSON bytes (an object); empty means `{}`.
    public var arguments: [UInt8]
    /// The caller's idempotence token, or `nil` to send `attempt-<id>`.
    public var idempotencyKey: String?
    /// A W3C `traceparent` value to send, when tracing is on.
    public var traceparent: String?

    /// Creates a call.
    public init(
        attemptID: Int64,
        attemptNumber: Int,
        methodName: String,
        arguments: [UInt8],
        idempotencyKey: String? = nil,
        traceparent: String? = nil
    ) {
        self.attemptID = attemptID
        self.attemptNumber = attemptNumber
        self.methodName = methodName
        self.arguments = arguments
        self.idempotencyKey = idempotencyKey
        self.traceparent = traceparent
    }

    /// The `Idempotency-Key` sent: the token, else `attempt-<id>`.
    public var effectiveIdempotencyKey: String {
        idempotencyKey ?? "attempt-\(attemptID)"
    }
}
