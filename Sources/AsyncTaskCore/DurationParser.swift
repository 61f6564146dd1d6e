/// Parses the configuration's durations: `250ms`, `2s`, `5m`, `1h`, `7d`, or a bare number of seconds
/// (fractions allowed: `1.5s`). A leading `-` is accepted so that callers can report a negative
/// value as such rather than as unreadable.
public enum DurationParser {
    /// Why a duration could not be read.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        /// The text that was given.
        public var input: String
        /// What is wrong with it.
        public var reason: String

        /// Creates an error.
        public init(input: String, reason: String) {
            self.input = input
            self.reason = reason
        }

        /// `'<input>' is not a duration: <reason>`.
        public var description: String {
            "'\(input)' is not a duration (\(reason)); write e.g. 250ms, 2s, 5m, 1h, 7d or a number of seconds"
        }
    }

    /// Parses `text`.
    /// - Throws: ``DurationParser/Error`` naming the input when it is empty, not a number or has an unknown unit.
    public static func parse(_ text: String) throws(DurationParser.Error) -> Duration {
        let trimmed = trimmingSpaces(text)
        guard !trimmed.isEmpty else { throw Error(input: text, reason: "empty") }
        let numberEnd = trimmed.firstIndex { !($0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+")) } ?? trimmed.endIndex
        let number = trimmed[..<numberEnd]
        let unit = trimmingSpaces(trimmed[numberEnd...]).lowercased()
        guard let value = Double(number), value.isFinite else {
            throw Error(input: text, reason: "'\(number)' is not a number")
        }
        let secondsPerUnit: Double
        switch unit {
        case "ms": secondsPerUnit = 0.001
        case "", "s": secondsPerUnit = 1
        case "m": secondsPerUnit = 60
        case "h": secondsPerUnit = 3600
        case "d": secondsPerUnit = 86_400
        default: throw Error(input: text, reason: "unknown unit '\(unit)'")
        }
        let nanoseconds = (value * secondsPerUnit * 1e9).rounded()
        guard abs(nanoseconds) < 9e18 else { throw Error(input: text, reason: "too large") }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// `duration` as the configuration writes it, and as ``parse(_:)`` reads it back: in the largest of `d`, `h`,
    /// `m`, `s` and `ms` that measures it whole (`7d`, `2m`, `90s`, `1500ms`), else as decimal seconds
    /// (`0.000001s`). For the README's defaults and messages that quote a setting. `parse(format(d)) == d` for
    /// durations up to days (`parse` reads through a `Double`, which loses nanoseconds only past months).
    public static func format(_ duration: Duration) -> String {
        let nanoseconds = duration.nanoseconds
        guard nanoseconds != 0 else { return "0s" }
        let units: [(String, Int64)] = [
            ("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000),
        ]
        for (unit, size) in units where nanoseconds % size == 0 {
            return "\(nanoseconds / size)\(unit)"
        }
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        var fraction = String(magnitude % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(magnitude / 1_000_000_000).\(fraction)s"
    }

    /// `text` without leading and trailing spaces and tabs (Unicode category Zs and U+0009): what Foundation's
    /// `trimmingCharacters(in: .whitespaces)` removes, so this module needs no Foundation.
    static func trimmingSpaces(_ text: some StringProtocol) -> String {
        let scalars = text.unicodeScalars
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
