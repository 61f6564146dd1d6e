import AsyncTaskTargets

/// A target's limits that hold for all nodes together (`targets.<name>.rate`, `burst`, `global_concurrency`,
/// `key_concurrency`, and the circuit breaker), from the config file or an operator's stored override (`asynctask
/// targets set`; the circuit only from the file). The claim function
/// (`async_task_claim_limited`, schema v8) enforces them; the node routes a limited target's claims there
/// and claims a rate-limited one ahead by at most 25 ms of its rate.
struct TargetLimits: Sendable, Hashable {
    /// Calls per second, retries included (nil: no rate limit).
    var rate: Double?
    /// Calls beyond the rate after a quiet spell (nil: one second's worth of `rate`).
    var burst: Int?
    /// Calls in flight from all nodes together (nil: no limit).
    var globalConcurrency: Int?
    /// Calls in flight per `concurrency_key` from all nodes together (nil: no limit).
    var keyConcurrency: Int?
    /// The node's circuit breaker for the target (nil: none).
    var circuit: CircuitSettings?
    /// The cluster's circuit of the target is not closed (as last read): even without a `circuit` block of its
    /// own the node claims through the claim function, which keeps the target uncalled until the cooldown passed.
    var circuitNotClosed = false

    /// No limit at all.
    static let none = TargetLimits()

    /// Whether any limit applies (the target's claims go through the claim function).
    var isLimited: Bool { rate != nil || globalConcurrency != nil || keyConcurrency != nil || circuit != nil || circuitNotClosed }

    /// Whether claims ahead of free slots must stay off the target: what is leased counts against a limit of
    /// calls in flight (`global_concurrency`, `key_concurrency`, a half-open circuit's probes).
    var countsLeases: Bool { globalConcurrency != nil || keyConcurrency != nil || circuit != nil }

    /// These limits with each of `override`'s set values in place of the own.
    func overridden(by override: TargetLimits) -> TargetLimits {
        TargetLimits(
            rate: override.rate ?? rate, burst: override.burst ?? burst,
            globalConcurrency: override.globalConcurrency ?? globalConcurrency,
            keyConcurrency: override.keyConcurrency ?? keyConcurrency, circuit: circuit,
            circuitNotClosed: override.circuitNotClosed || circuitNotClosed)
    }
}

/// What the operator stored for the targets a node serves (`async_task_targets`), read each heartbeat.
struct TargetControlState: Sendable, Hashable {
    /// Targets paused now.
    var paused: Set<String> = []
    /// Limits stored by `asynctask targets set`, by target (only the values set), and the targets whose circuit
    /// is not closed (`circuitNotClosed`).
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
