import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation

extension AttemptsCommand {
    /// `asynctask attempts list`: the newest attempts matching a filter.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List attempts, newest first (arguments are never printed).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var filter: FilterOptions

        @Option(help: "At most this many (1…10000).")
        var limit: Int = 50

        @Option(help: "Only ids below this one (the next page after a listing).")
        var before: Int64?

        @OptionGroup var liveness: LivenessOptions

        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
            if let before, before < 1 { throw ValidationError("--before must be a positive attempt id") }
        }

        func run() async throws {
            var filter = try self.filter.filter()
            filter.beforeID = before
            let queries = AttemptQueries(deadAfter: try await liveness.resolve(database))
            let views = try await database.withConnection { try await queries.views(filter, limit: limit, on: $0) }
            if views.count == limit, let last = views.last {
                FileHandle.standardError.write(Data("(more: --before \(last.id))\n".utf8))
            }
            if json {
                try OutputFormat.printJSON(views)
                return
            }
            OutputFormat.printTable(
                header: ["ID", "STATUS", "TARGET", "METHOD", "TRIES", "CREATED", "COMPLETED", "LAST ERROR"],
                rows: views.map { view in
                    [
                        String(view.id), view.status.rawValue, view.target, view.methodName,
                        // The limit in force (the attempt's, its last try's, or the live nodes' default), and an
                        // earlier try's error of a since-succeeded attempt marked as such.
                        "\(view.numAttempts)/\(view.maxAttemptsShort)", OutputFormat.timestamp(view.createdAt),
                        view.completedAt.map(OutputFormat.timestamp) ?? "-", OutputFormat.excerpt(view.lastErrorSummary, 60),
                    ]
                })
        }
    }
}
