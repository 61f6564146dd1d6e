import AsyncTaskCore

/// A duration the way the configuration reference and the config file write it: `5ms`, `2s`, `5m`, `1h`, `7d`
/// (the largest unit that divides it), so a default shown in the README reads back as the same value.
enum DurationText {
    /// `duration` in the largest whole unit; a negative duration, or one that is not a whole number of
    /// milliseconds, as Swift prints it.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        guard milliseconds >= 0, Duration.milliseconds(milliseconds) == duration else { return "\(duration)" }
        guard milliseconds > 0 else { return "0s" }
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
