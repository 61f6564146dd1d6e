import ArgumentParser
import AsyncTask
import Foundation

/// `asynctask stats`: per-target queue figures.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Per target: pending, due, running, succeeded/failed in the last hour, lag, rate.")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Include the internal @webhook deliveries.") var includeInternal = false

    func run() async throws {
        let stats = try await database.withConnection { try await ClusterStats().perTarget(includeInternal: includeInternal, on: $0) }
        if json {
            try OutputFormat.printJSON(stats)
            return
        }
        OutputFormat.printTable(
            header: ["TARGET", "PENDING", "DUE", "RUNNING", "SUCCEEDED 1H", "FAILED 1H", "LAG", "RATE/S"],
            rows: stats.map { row in
                [
                    row.target, String(row.pending), String(row.due), String(row.running), String(row.succeededLastHour),
                    String(row.failedLastHour), ElapsedTimeText.describe(row.lagSeconds), String(format: "%.2f", row.ratePerSecond),
                ]
            })
    }
}
