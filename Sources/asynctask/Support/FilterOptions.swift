import ArgumentParser
import AsyncTask
import AsyncTaskAdmin

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

    /// True when no filter option was given.
    var isEmpty: Bool { [status, target, method, since].allSatisfy { $0 == nil } }

    /// The parsed filter; bad values exit 2 naming the option.
    func filter() throws -> AttemptFilter {
        do {
            return try FilterParser.filter(status: status, target: target, method: method, since: since)
        } catch {
            throw CLIFailure.badInput("--\(error.field): \(error.reason)")
        }
    }
}
