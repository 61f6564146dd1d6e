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
    /// The attempt's ordering key: no other attempt of its key runs until this one has a final outcome.
    var orderingKey: String? = nil
    /// When the claim that returned it was sent, on this node's clock: the lease began no earlier, so a lease
    /// renewed by nobody lapses no sooner than `lease` after this.
    var claimedAt: ContinuousClock.Instant? = nil
}
