import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient

extension AttemptsCommand {
    /// Which attempts an action applies to: ids, or a filter with `--dry-run` and `--yes`.
    struct Selection: ParsableArguments {
        @Argument(help: "Attempt ids (or give filter options instead).")
        var ids: [String] = []

        @OptionGroup var filter: FilterOptions

        @Flag(help: "Only count the attempts the filter would change.")
        var dryRun = false

        @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
        var yes = false

        func validate() throws {
            if !ids.isEmpty && !filter.isEmpty {
                throw ValidationError("give attempt ids or filter options (--status, --target, --method, --since, --state), not both")
            }
            if ids.isEmpty && filter.isEmpty {
                throw ValidationError("give attempt ids, or filter options (--status, --target, --method, --since, --state) to act on every match")
            }
        }

        /// Applies by id (each in its own statement, refusals reported) or by filter (batched, confirmed).
        func run(
            _ action: AttemptActionRequest, database: DatabaseOptions, json: Bool, verb: String
        ) async throws {
            if !ids.isEmpty {
                let parsed = try IDs.parse(ids)
                if dryRun {
                    throw CLIFailure.badInput("--dry-run applies to filters; with ids, `attempts show` them instead")
                }
                try await AttemptsCommand.apply(action, ids: parsed, database: database, json: json, verb: verb)
                return
            }
            let filter = try self.filter.filter()
            let bulk = BulkAttemptActions()
            try await database.withConnection { connection in
                let count = try await bulk.count(action, filter: filter, on: connection)
                let statuses = action.action.appliesToText
                if dryRun || count == 0 {
                    if json {
                        try OutputFormat.printJSON(DryRun(action: action.verb, matching: count, dryRun: dryRun))
                    } else {
                        print("\(count) \(statuses) attempt(s) match: \(dryRun ? "dry run, nothing changed" : "nothing to do")")
                    }
                    return
                }
                try Confirmation.require("\(action.verb) \(count) \(statuses) attempt(s)?", yes: yes)
                let progress = ProgressBar(total: count, label: action.verb)
                let changed = try await bulk.apply(action, filter: filter, on: connection) { progress.update($0) }
                progress.finish()
                if json {
                    try OutputFormat.printJSON(["changed": changed.count])
                } else {
                    print("\(changed.count) attempt(s) \(verb)")
                }
            }
        }
    }

    /// `--dry-run --json` output.
    struct DryRun: Encodable {
        let action: String
        let matching: Int
        let dryRun: Bool
    }
}
