import ArgumentParser
import AsyncTask
import Foundation

/// `asynctask targets`: every target with its state and load cluster-wide, and the operator's pause and resume.
struct TargetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets", abstract: "List targets (state, pending, due, in flight cluster-wide, calls per second); pause or resume one.",
        subcommands: [List.self, Pause.self, Resume.self], defaultSubcommand: List.self)

    /// Options every `targets` subcommand shares.
    struct Common: ParsableArguments {
        @OptionGroup var database: DatabaseOptions

        @Option(help: "Heartbeats older than this count as not live (the workers' node.dead_after).")
        var deadAfter: String = "10s"

        @Flag(help: "Print JSON.") var json = false

        func controls() throws -> TargetControls {
            do {
                return TargetControls(deadAfter: try FilterParser.duration(deadAfter, field: "dead-after"))
            } catch {
                throw CLIFailure.badInput("--\(error.field): \(error.reason)")
            }
        }

        func print(_ targets: [TargetControls.TargetInfo]) throws {
            if json {
                try OutputFormat.printJSON(targets)
                return
            }
            OutputFormat.printTable(
                header: ["TARGET", "STATE", "SERVED BY", "PENDING", "DUE", "IN FLIGHT", "CALLS/S (1 MIN)", "PAUSED SINCE"],
                rows: targets.map { target in
                    [
                        target.name, target.state, "\(target.servedBy) node\(target.servedBy == 1 ? "" : "s")", String(target.pending),
                        String(target.due), String(target.inFlight), String(format: "%.1f", target.callsPerSecond),
                        target.pausedAt.map { "\($0.formatted(.iso8601)) by \(target.pausedBy ?? "?")" } ?? "",
                    ]
                })
        }
    }

    /// `asynctask targets list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every target that a live node serves, that has pending attempts, or that an operator steered.")
        @OptionGroup var common: Common

        func run() async throws {
            let controls = try common.controls()
            try common.print(try await common.database.withConnection { try await controls.list(on: $0) })
        }
    }

    /// `asynctask targets pause NAME`.
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Pause a target cluster-wide: no node starts a call to it within one heartbeat; calls in flight finish; pending attempts wait and keep their tries."
        )
        @OptionGroup var common: Common
        @Argument(help: "The target's name (case-sensitive).") var name: String
        @Option(help: "Who pauses it, shown in the listing (default: user@host).") var by: String?

        func run() async throws {
            let controls = try common.controls()
            let author = by ?? "\(ProcessInfo.processInfo.environment["USER"] ?? "unknown")@\(ProcessInfo.processInfo.hostName)"
            let target = try await TargetsCommand.controlling {
                try await common.database.withConnection { try await controls.pause(name, by: author, on: $0) }
            }
            try common.print([target])
        }
    }

    /// `asynctask targets resume NAME`.
    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused target: nodes claim its attempts again at once.")
        @OptionGroup var common: Common
        @Argument(help: "The target's name (case-sensitive).") var name: String

        func run() async throws {
            let controls = try common.controls()
            let target = try await TargetsCommand.controlling {
                try await common.database.withConnection { try await controls.resume(name, on: $0) }
            }
            try common.print([target])
        }
    }

    /// Runs a control; an unknown target is bad input (exit 2), naming the known ones.
    static func controlling<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as TargetControlError {
            throw CLIFailure.badInput(error.description)
        }
    }
}
