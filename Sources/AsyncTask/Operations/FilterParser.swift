import AsyncTaskCore
public import Foundation

/// Reads an `AttemptFilter` from text, as typed on the command line or in a query string, with errors that
/// name the bad field. The CLI and the admin API both parse through here.
public enum FilterParser {
    /// A criterion that cannot be read.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        /// The field (`status`, `since`, `before`, `limit`).
        public var field: String
        /// What is wrong.
        public var reason: String

        /// Creates an error; the admin API and the CLI raise their own for fields they read themselves.
        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }

        public var description: String { "invalid \(field): \(reason)" }
    }

    /// Parses the criteria; nil or empty texts mean "no criterion".
    /// - Parameters:
    ///   - status: comma-separated statuses (`failed,expired`).
    ///   - since: an ISO 8601 time, or a duration ago (`15m`, `2h`, `7d`).
    ///   - before: an attempt id; only smaller ids match.
    ///   - state: a pending phase (`scheduled`, `retrying`, `running`, `waiting`).
    ///   - includeInternal: `true`/`1` to include `@webhook` deliveries.
    ///   - now: the time `since` durations count back from.
    /// - Throws: `FilterParser.Error`.
    public static func filter(
        status: String?, target: String?, method: String?, since: String?, before: String? = nil, state: String? = nil,
        includeInternal: String? = nil, now: Date = Date()
    ) throws(FilterParser.Error) -> AttemptFilter {
        var filter = AttemptFilter()
        if let state, !state.isEmpty {
            guard let phase = AttemptFilter.Phase(rawValue: state.lowercased()) else {
                throw Error(
                    field: "state", reason: "'\(state)' is not one of \(AttemptFilter.Phase.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.phase = phase
        }
        filter.includeInternal = try flag(includeInternal, field: "include_internal")
        if let status, !status.isEmpty {
            var statuses: [AttemptStatus] = []
            for name in status.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
                guard let value = AttemptStatus(rawValue: name) else {
                    throw Error(field: "status", reason: "'\(name)' is not one of \(AttemptStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                statuses.append(value)
            }
            filter.statuses = statuses
        }
        if let target, !target.isEmpty { filter.target = target }
        if let method, !method.isEmpty { filter.method = method }
        if let since, !since.isEmpty { filter.since = try time(since, field: "since", now: now) }
        if let before, !before.isEmpty {
            guard let id = Int64(before), id > 0 else { throw Error(field: "before", reason: "'\(before)' is not an attempt id") }
            filter.beforeID = id
        }
        return filter
    }

    /// The criteria named as in the API's query strings and the dashboard's forms (`status`, `target`, `method`,
    /// `since`, `before`, `state`, `include_internal`), read through `value`.
    /// - Throws: `FilterParser.Error`.
    public static func filter(_ value: (String) -> String?, now: Date = Date()) throws(FilterParser.Error) -> AttemptFilter {
        try filter(
            status: value("status"), target: value("target"), method: value("method"), since: value("since"), before: value("before"),
            state: value("state"), includeInternal: value("include_internal"), now: now)
    }

    /// A yes/no query value: `1`/`true`/`yes`/`on`, `0`/`false`/`no`/`off`; nil or empty is false.
    public static func flag(_ text: String?, field: String) throws(FilterParser.Error) -> Bool {
        guard let text, !text.isEmpty else { return false }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw Error(field: field, reason: "'\(text)' is not true or false")
        }
    }

    /// A limit between 1 and `maximum`; nil gives `defaultValue`.
    public static func limit(_ text: String?, default defaultValue: Int = 50, maximum: Int = 1000) throws(FilterParser.Error) -> Int {
        guard let text, !text.isEmpty else { return defaultValue }
        guard let value = Int(text), (1...maximum).contains(value) else {
            throw Error(field: "limit", reason: "'\(text)' is not a whole number between 1 and \(maximum)")
        }
        return value
    }

    /// A duration (`90s`, `15m`, `7d`).
    public static func duration(_ text: String, field: String) throws(FilterParser.Error) -> Duration {
        let value: Duration
        do {
            value = try DurationParser.parse(text)
        } catch {
            throw Error(field: field, reason: error.description)
        }
        guard value > .zero else { throw Error(field: field, reason: "'\(text)' must be positive") }
        return value
    }

    /// An ISO 8601 time or a duration ago.
    static func time(_ text: String, field: String, now: Date) throws(FilterParser.Error) -> Date {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime]
        if let date = iso.date(from: text) { return date }
        guard let ago = try? DurationParser.parse(text), ago > .zero else {
            throw Error(field: field, reason: "'\(text)' is neither an ISO 8601 time (2026-01-31T12:00:00Z) nor a duration ago (15m, 2h, 7d)")
        }
        return now.addingTimeInterval(-ago.seconds)
    }
}
