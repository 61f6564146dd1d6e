import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation

extension AttemptsCommand {
    /// `asynctask attempts purge --older-than D`: retention by hand.
    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete finished attempts completed longer ago than --older-than, in small batches.",
            discussion:
                "The same deletion the workers' retention runs (retention.succeeded / retention.failed), for manual runs. Pending attempts are never deleted."
        )
        @OptionGroup var database: DatabaseOptions

        @Option(help: "Delete attempts completed longer ago than this (e.g. 30d, 12h).")
        var olderThan: String

        @Option(help: "Only these finished statuses (comma-separated: succeeded, failed, expired; default all three).")
        var status: String = "succeeded,failed,expired"

        @Option(help: "Rows per DELETE.")
        var batchSize: Int = 1000

        @Flag(help: "Only count what would be deleted.")
        var dryRun = false

        @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
        var yes = false

        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 100000") }
        }

        func run() async throws {
            let age: Duration
            let statuses: [AttemptStatus]
            do {
                age = try FilterParser.duration(olderThan, field: "older-than")
                statuses = try FilterParser.filter(status: status, target: nil, method: nil, since: nil).statuses ?? []
            } catch {
                throw CLIFailure.badInput("--\(error.field): \(error.reason)")
            }
            if statuses.contains(.pending) { throw CLIFailure.badInput("--status: pending attempts are never purged") }
            let pruner = AttemptPruner(batchSize: batchSize)
            try await database.withConnection { connection in
                var counts: [String: Int] = [:]
                for status in statuses { counts[status.rawValue] = try await pruner.count(status: status, olderThan: age, on: connection) }
                let total = counts.values.reduce(0, +)
                if dryRun || total == 0 {
                    if json {
                        try OutputFormat.printJSON(["matching": counts])
                    } else {
                        print(
                            "\(total) attempt(s) completed more than \(olderThan) ago (\(Self.describe(counts))): \(dryRun ? "dry run, nothing deleted" : "nothing to do")"
                        )
                    }
                    return
                }
                try Confirmation.require(
                    "delete \(total) finished attempt(s) completed more than \(olderThan) ago (\(Self.describe(counts)))?", yes: yes)
                let progress = ProgressBar(total: total, label: "purge")
                var deleted: [String: Int] = [:]
                var before = 0
                for status in statuses {
                    deleted[status.rawValue] = try await pruner.prune(status: status, olderThan: age, on: connection) { progress.update(before + $0) }
                    before += deleted[status.rawValue] ?? 0
                }
                progress.finish()
                if json {
                    try OutputFormat.printJSON(["deleted": deleted])
                } else {
                    print("deleted \(deleted.values.reduce(0, +)) attempt(s) (\(Self.describe(deleted)))")
                }
            }
        }

        static func describe(_ counts: [String: Int]) -> String {
            counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }
}
