import Foundation

/// How operator views (the CLI's tables, the dashboard) write ages and lags: `4.2s`, `3m 10s`, `2h 5m`.
public enum ElapsedTimeText {
    /// `seconds` as a short human duration, one decimal under ten seconds.
    public static func describe(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \(total % 3600 / 60)m"
    }
}
