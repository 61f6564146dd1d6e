extension Duration {
    /// Whole milliseconds, truncated toward zero (`1.9ms` → 1, `-1.9ms` → -1), for
    /// `$n * interval '1 millisecond'` binds and millisecond fields. Saturates at `Int64.min`/`Int64.max`
    /// instead of trapping.
    public var milliseconds: Int64 {
        Self.whole(self, per: 1_000_000_000_000_000, roundingUp: false)
    }

    /// Whole milliseconds, rounded up (`0.1ms` → 1, `1ms` → 1, `-1.9ms` → -1): for timeouts handed to C
    /// libraries, where truncating would fire early (or turn a short wait into "no wait"). Saturates like
    /// ``milliseconds``.
    public var millisecondsRoundedUp: Int64 {
        Self.whole(self, per: 1_000_000_000_000_000, roundingUp: true)
    }

    /// Whole nanoseconds, truncated toward zero, for metrics timers and latency samples. Saturates like
    /// ``milliseconds`` (about 292 years).
    public var nanoseconds: Int64 {
        Self.whole(self, per: 1_000_000_000, roundingUp: false)
    }

    /// Seconds as a `Double` (`1.5s` → 1.5), for rates, JSON and `Date` arithmetic.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole units of `attosecondsPerUnit` in `duration`; both components carry the duration's sign.
    private static func whole(_ duration: Duration, per attosecondsPerUnit: Int64, roundingUp: Bool) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let unitsPerSecond = 1_000_000_000_000_000_000 / attosecondsPerUnit
        var fraction = attoseconds / attosecondsPerUnit
        if roundingUp, attoseconds > 0, attoseconds % attosecondsPerUnit != 0 { fraction += 1 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: unitsPerSecond)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(fraction)
        guard !sumOverflow else { return seconds < 0 ? .min : .max }
        return sum
    }
}
