import AsyncTaskCore

/// Delay before the next try of a failed attempt: exponential growth from `base`, capped at
/// `max`, with full jitter (a uniformly random delay between zero and that ceiling), so that
/// attempts failing together do not retry together.
public struct Backoff: Sendable, Hashable {
    /// The ceiling after the first failure.
    public var base: Duration
    /// The largest ceiling.
    public var max: Duration

    /// Creates a backoff; the defaults are DESIGN §4's `{ base: 1s, max: 1h }`.
    public init(base: Duration = .seconds(1), max: Duration = .seconds(3600)) {
        self.base = base
        self.max = max
    }

    /// The jitter-free ceiling after failed try number `n` (1-based): `min(max, base × 2^(n-1))`.
    public func ceiling(afterAttempt n: Int) -> Duration {
        let exponent = Swift.max(0, Swift.min(n - 1, 62))
        let nanoseconds = Self.nanoseconds(base) * Double(UInt64(1) << UInt64(exponent))
        let capped = Swift.min(nanoseconds, Self.nanoseconds(max))
        return .nanoseconds(Int64(Swift.max(0, capped)))
    }

    /// A random delay in `0...ceiling(afterAttempt: n)` drawn from `generator` (inject a seeded
    /// one in tests).
    public func delay(afterAttempt n: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = Int64(Self.nanoseconds(ceiling(afterAttempt: n)))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &generator))
    }

    /// A random delay in `0...ceiling(afterAttempt: n)` from the system's generator.
    public func delay(afterAttempt n: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: n, using: &generator)
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.nanoseconds)
    }
}
