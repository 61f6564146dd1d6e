/// A target's limits that hold for all nodes together (`targets.<name>.rate`, `burst`, `global_concurrency`),
/// from the config file or an operator's stored override (`asynctask targets set`). The claim function
/// (`async_task_claim_limited`, schema v8) enforces them; the node routes a limited target's claims there
/// and claims a rate-limited one ahead by at most 50 ms of its rate.
struct TargetLimits: Sendable, Hashable {
    /// Calls per second, retries included (nil: no rate limit).
    var rate: Double?
    /// Calls beyond the rate after a quiet spell (nil: one second's worth of `rate`).
    var burst: Int?
    /// Calls in flight from all nodes together (nil: no limit).
    var globalConcurrency: Int?

    /// No limit at all.
    static let none = TargetLimits()

    /// Whether any limit applies (the target's claims go through the claim function).
    var isLimited: Bool { rate != nil || globalConcurrency != nil }

    /// These limits with each of `override`'s set values in place of the own.
    func overridden(by override: TargetLimits) -> TargetLimits {
        TargetLimits(
            rate: override.rate ?? rate, burst: override.burst ?? burst,
            globalConcurrency: override.globalConcurrency ?? globalConcurrency)
    }
}

/// What the operator stored for the targets a node serves (`async_task_targets`), read each heartbeat.
struct TargetControlState: Sendable, Hashable {
    /// Targets paused now.
    var paused: Set<String> = []
    /// Limits stored by `asynctask targets set`, by target (only the values set).
    var overrides: [String: TargetLimits] = [:]
}

/// What a claim returned: the attempts leased to the node, and the limited targets a limit cut short while
/// more was due, with when to claim for them again.
struct ClaimResult: Sendable {
    /// The attempts claimed.
    var attempts: [ClaimedAttempt]
    /// Limited targets held back by their limit, and how long until a claim may get more.
    var throttled: [String: Duration] = [:]
}
