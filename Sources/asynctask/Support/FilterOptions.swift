import ArgumentParser
import AsyncTask

/// `--status --target --method --since`: which attempts a listing or a bulk action means.
struct FilterOptions: ParsableArguments {
    @Option(help: "Only these statuses (comma-separated: pending, succeeded, failed, expired).")
    var status: String?

    @Option(help: "Only this target.")
    var target: String?

    @Option(help: "Only this method.")
    var method: String?

    @Option(help: "Only attempts created since then: an ISO 8601 time or a duration ago (15m, 2h, 7d).")
    var since: String?

    @Option(help: "Only pending attempts in this phase: scheduled, retrying, running or waiting (behind an earlier attempt of its ordering key).")
    var state: String?

    @Flag(help: "Include @webhook deliveries (left out unless --target names them).")
    var includeInternal = false

    /// True when no filter option was given (`--include-internal` widens a filter but is none itself).
    var isEmpty: Bool { [status, target, method, since, state].allSatisfy { $0 == nil } }

    /// The parsed filter; bad values exit 2 naming the option.
    func filter() throws -> AttemptFilter {
        do {
            var filter = try FilterParser.filter(status: status, target: target, method: method, since: since, state: state)
            filter.includeInternal = includeInternal
            return filter
        } catch {
            throw CLIFailure.badInput("--\(error.field): \(error.reason)")
        }
    }
}
