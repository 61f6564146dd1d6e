import Foundation

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
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw Error(input: text, reason: "empty") }
        let numberEnd = trimmed.firstIndex { !($0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+")) } ?? trimmed.endIndex
        let number = trimmed[..<numberEnd]
        let unit = trimmed[numberEnd...].trimmingCharacters(in: .whitespaces).lowercased()
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
}
