/// An attempt this node holds a lease on: what the claim returned.
struct ClaimedAttempt: Sendable {
    let id: Int64
    let target: String
    let methodName: String
    /// The stored `method_args` text (JSON, or a ciphertext envelope when `encryptor` is set).
    let methodArgs: String
    let encryptor: String?
    /// `num_attempts` after this claim: the try number and the lease's fencing token.
    let attemptNumber: Int
    let maxAttempts: Int?
    let idempotenceToken: String?
    /// How long ago its first try began, at this claim, on the database's clock (zero for a first try): what
    /// `max_retry_duration` is checked against, so nodes' clocks never matter.
    var triedFor: Duration = .zero
}
