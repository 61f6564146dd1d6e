/// A duration the way the configuration reference and the config file write it: `5ms`, `2s`, `5m`, `1h`, `7d`
/// (the largest unit that divides it), so a default shown in the README reads back as the same value.
enum DurationText {
    /// `duration` in the largest whole unit; a duration below a millisecond, or not a whole number of
    /// milliseconds, as Swift prints it.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard attoseconds % 1_000_000_000_000_000 == 0, seconds >= 0, attoseconds >= 0 else { return "\(duration)" }
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        guard milliseconds > 0 else { return "0s" }
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
