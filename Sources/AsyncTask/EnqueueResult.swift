/// What `AttemptQueue.enqueueReporting(_:on:)` did: inserted a new attempt, or found one with the same
/// idempotence token (target, method, token) and left it as it was.
///
/// A repeated token is the point of idempotence tokens (a producer may retry its transaction), but a repeated
/// token with *different* arguments is almost always a bug in the producer: the new arguments are discarded.
/// `arguments` tells the two apart, so a producer can log or fail loudly.
public struct EnqueueResult: Sendable, Hashable {
    /// How the stored arguments of an attempt that already existed compare with the ones just given.
    public enum Arguments: Sendable, Hashable {
        /// Equal as `jsonb` (key order and whitespace do not matter, numbers compare by value).
        case same
        /// Not equal: the stored attempt keeps its own arguments and the new ones were discarded.
        case different
        /// Cannot be compared, with the reason: the stored arguments are encrypted under a key this producer's
        /// encryptor cannot open (another key ring, or no keys at all).
        case notComparable(reason: String)
    }

    /// The attempt's id: the new row's, or the existing row's.
    public let id: Int64
    /// True when this call inserted the row; false when an attempt with the same token already existed.
    public let created: Bool
    /// For an existing attempt, how its stored arguments compare with the new ones; nil when `created`.
    public let arguments: Arguments?

    /// Creates a result.
    public init(id: Int64, created: Bool, arguments: Arguments?) {
        self.id = id
        self.created = created
        self.arguments = arguments
    }
}
