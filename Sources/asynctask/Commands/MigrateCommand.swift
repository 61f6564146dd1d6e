import ArgumentParser
import AsyncTask
import Foundation

/// `asynctask migrate [--status]`: applies pending schema migrations, or lists applied and pending ones.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (safe to run from several processes at once).")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "List applied and pending migrations instead of applying them.")
    var status = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        try await database.withConnection { connection in
        let migrator = Migrator()
        if status {
            let rows = try await migrator.status(on: connection)
            if json {
                try OutputFormat.printJSON(rows)
            } else {
                OutputFormat.printTable(
                    header: ["VERSION", "NAME", "STATE", "APPLIED AT"],
                    rows: rows.map { [String($0.version), $0.name, $0.appliedAt == nil ? "pending" : "applied", $0.appliedAt.map(OutputFormat.timestamp) ?? "-"] })
            }
            return
        }
        let applied = try await migrator.migrate(on: connection)
        if json {
            try OutputFormat.printJSON(["applied": applied, "schema_version": [Schema.latestVersion]])
        } else if applied.isEmpty {
            print("schema is current (version \(Schema.latestVersion))")
        } else {
            print("applied migrations \(applied.map(String.init).joined(separator: ", ")); schema version \(Schema.latestVersion)")
        }
        }
    }
}
