import ArgumentParser
import AsyncTask
import Foundation

/// `asynctask doctor`: checks that need an operator; exit 1 when any finds something.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the cluster: unserved targets, dead nodes holding leases, stuck leases, bloat, missing migrations.",
        discussion: "Exits 0 when every check passes, 1 when something needs attention (or the database is unreachable).")
    @OptionGroup var database: DatabaseOptions

    @OptionGroup var liveness: LivenessOptions

    @Option(help: "A lease this far past its end counts as stuck.")
    var stuckAfter: String = "60s"

    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var configuration = Doctor.Configuration()
        configuration.deadAfter = try await liveness.resolve(database)
        do {
            configuration.stuckAfter = try FilterParser.duration(stuckAfter, field: "stuck-after")
        } catch {
            throw CLIFailure.badInput("--\(error.field): \(error.reason)")
        }
        let findings = try await database.withConnection { try await Doctor(configuration: configuration).run(on: $0) }
        let attention = findings.filter { $0.severity != .ok }
        if json {
            try OutputFormat.printJSON(["findings": findings])
        } else {
            OutputFormat.printTable(header: ["SEVERITY", "CHECK", "FINDING"], rows: findings.map { [$0.severity.rawValue, $0.check, $0.message] })
        }
        if !attention.isEmpty {
            throw CLIFailure.runtime("\(attention.count) finding(s) need attention")
        }
    }
}
