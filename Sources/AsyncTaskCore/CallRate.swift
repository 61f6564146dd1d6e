/// A rate of calls, as the configuration and `asynctask targets set --rate` write it: `200/s`, `30/m`, `1000/h`
/// (a bare number is per second). Kept as calls per second, the unit every node and the claim function use.
public struct CallRate: Sendable, Hashable, CustomStringConvertible {
    /// Why a rate could not be read.
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

        /// `'<input>' is not a rate (<reason>); …`.
        public var description: String { "'\(input)' is not a rate (\(reason)); write e.g. 200/s, 30/m or 1000/h" }
    }

    /// Calls per second (positive, finite).
    public let perSecond: Double

    /// A rate of `perSecond` calls per second.
    /// - Throws: ``CallRate/Error`` when it is not positive and finite.
    public init(perSecond: Double) throws(CallRate.Error) {
        guard perSecond.isFinite, perSecond > 0 else { throw Error(input: "\(perSecond)/s", reason: "it must be more than 0") }
        self.perSecond = perSecond
    }

    /// Parses `200/s`, `30/m`, `1000/h` or a bare number of calls per second.
    /// - Throws: ``CallRate/Error`` naming the input when it is not a number, has an unknown unit, or is not
    ///   more than zero.
    public init(parsing text: String) throws(CallRate.Error) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw Error(input: text, reason: "empty") }
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let unit = parts.count == 2 ? String(parts[1]).trimmingSpaces.lowercased() : "s"
        let secondsPerUnit: Double
        switch unit {
        case "s", "sec", "second": secondsPerUnit = 1
        case "m", "min", "minute": secondsPerUnit = 60
        case "h", "hour": secondsPerUnit = 3600
        default: throw Error(input: text, reason: "unknown unit '/\(unit)'")
        }
        let number = String(parts[0]).trimmingSpaces
        guard let count = Double(number), count.isFinite else { throw Error(input: text, reason: "'\(number)' is not a number") }
        guard count > 0 else { throw Error(input: text, reason: "it must be more than 0") }
        self.perSecond = count / secondsPerUnit
    }

    /// The default burst: one second's worth of calls (at least one).
    public var oneSecondsWorth: Int { max(1, Int(perSecond.rounded(.up))) }

    /// `200/s`, or per minute or hour when that reads as a whole number and per second would not.
    public var description: String {
        func whole(_ value: Double) -> String? {
            let rounded = value.rounded()
            return abs(value - rounded) < 1e-9 && rounded < 1e15 ? String(Int64(rounded)) : nil
        }
        if let text = whole(perSecond) { return "\(text)/s" }
        if let text = whole(perSecond * 60) { return "\(text)/m" }
        if let text = whole(perSecond * 3600) { return "\(text)/h" }
        return "\(perSecond)/s"
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
