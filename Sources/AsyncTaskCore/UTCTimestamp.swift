/// A point in time as microseconds since 1970-01-01 UTC, written as text without Foundation's formatters (slow,
/// and locale-sensitive): the timestamps PostgreSQL is sent (`PostgresClient`) and the `started_at` of an
/// attempt's try history, which the worker writes for every outcome.
public struct UTCTimestamp: Sendable, Hashable {
    /// Microseconds since 1970-01-01 00:00:00 UTC (negative before it).
    public let microsecondsSinceEpoch: Int64

    /// The timestamp `microsecondsSinceEpoch` microseconds after the Unix epoch.
    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// The calendar fields in UTC, proleptic Gregorian.
    public var fields: (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, microsecond: Int64) {
        let seconds = Self.floorDiv(microsecondsSinceEpoch, 1_000_000)
        let microsecond = microsecondsSinceEpoch - seconds * 1_000_000
        let days = Self.floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civilFromDays(days)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60, microsecond)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`: milliseconds truncated, as PostgreSQL's `to_char(…, 'MS')` writes them.
    public var iso8601Milliseconds: String { text(separator: "T", fractionDigits: 3, zone: "Z") }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`: the text form PostgreSQL reads as a `timestamptz` with all its precision.
    public var postgresText: String { text(separator: " ", fractionDigits: 6, zone: "+00") }

    /// The date, `separator`, the time of day with its fraction of a second truncated to `fractionDigits` (3 or
    /// 6), and `zone`.
    private func text(separator: String, fractionDigits: Int, zone: String) -> String {
        let f = fields
        let fraction = fractionDigits == 3 ? f.microsecond / 1000 : f.microsecond
        return "\(Self.pad(f.year, 4))-\(Self.pad(f.month, 2))-\(Self.pad(f.day, 2))\(separator)\(Self.pad(f.hour, 2)):"
            + "\(Self.pad(f.minute, 2)):\(Self.pad(f.second, 2)).\(Self.pad(fraction, fractionDigits))\(zone)"
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// Howard Hinnant's days-from-civil inverse: days since 1970-01-01 → (year, month, day), proleptic Gregorian.
    static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
