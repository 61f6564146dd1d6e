import AsyncTaskCore

/// How many claimed attempts of one target a node keeps ahead of its free slots (the prefetch buffer's depth),
/// from what it observes: the rate at which the target's calls complete and how long a claim takes to come back.
///
/// A slot that frees must find its next attempt already claimed. The buffer refills when it falls to half its
/// depth, and the refill arrives one claim round trip later, so half the depth must cover the calls that
/// complete in that time: depth = 2 × rate × round trip, doubled for the jitter of a shared machine. And each
/// claim is a commit: the depth covers at least `minimumLookahead` of calls, so a busy node claims about every
/// 15 ms (not once per freed slot) and its commits stay near one per hundred attempts. Within
/// `minimum…maximum`. Pure: every observation passes its own time, so tests drive it without a clock.
struct PrefetchSizing: Sendable {
    /// The depth when nothing has been observed yet, and the least it ever is (unless `maximum` is lower).
    let minimum: Int
    /// `node.prefetch`: the most attempts the buffer holds; 0 turns prefetching off.
    let maximum: Int
    /// Completions per second, smoothed.
    private(set) var rate: Double = 0
    /// A claim's round trip in seconds, smoothed.
    private(set) var claimSeconds: Double = 0
    private var lastCompleted = 0
    private var lastSample: ContinuousClock.Instant?

    /// How often the completion rate is sampled; shorter windows only add noise.
    static let sampleWindow = Duration.milliseconds(100)
    /// Weight of each new sample in the smoothed values.
    static let smoothing = 0.3
    /// The least time of calls the depth covers (see above).
    static let minimumLookahead = 0.030

    init(minimum: Int = 8, maximum: Int) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// The depth to keep now for a target of `concurrency`: the observed need, at least `minimum` (but not more
    /// than the target's concurrency, for a target that is idle or slow), at most `maximum`.
    func depth(concurrency: Int = .max) -> Int {
        guard maximum > 0 else { return 0 }
        let wanted = (rate * max(4 * claimSeconds, Self.minimumLookahead)).rounded(.up)
        let floor = min(minimum, maximum, concurrency)
        guard wanted.isFinite, wanted > Double(floor) else { return floor }
        return min(maximum, Int(wanted))
    }

    /// Notes that a claim took `duration` (whether or not it returned rows).
    mutating func observeClaim(_ duration: Duration) {
        let seconds = duration.seconds
        claimSeconds = claimSeconds == 0 ? seconds : claimSeconds + Self.smoothing * (seconds - claimSeconds)
    }

    /// Notes the node's count of completed calls at `now`; samples the rate once per `sampleWindow`.
    mutating func observeCompletions(total: Int, at now: ContinuousClock.Instant) {
        guard let last = lastSample else {
            lastSample = now
            lastCompleted = total
            return
        }
        let elapsed = now - last
        guard elapsed >= Self.sampleWindow else { return }
        let seconds = elapsed.seconds
        let sample = Double(total - lastCompleted) / seconds
        rate = rate + Self.smoothing * (sample - rate)
        lastSample = now
        lastCompleted = total
    }
}
