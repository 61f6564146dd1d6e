import ArgumentParser
import AsyncTask
import AsyncTaskCore
import Foundation

/// `asynctask targets`: every target with its state and load cluster-wide, the operator's pause and resume,
/// and limits that hold for all nodes together.
struct TargetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets",
        abstract: "List targets (state, limits, pending, due, in flight cluster-wide, calls per second); pause, resume or limit one.",
        subcommands: [List.self, Pause.self, Resume.self, SetLimits.self, Blocked.self, Unblock.self], defaultSubcommand: List.self)

    /// Options every `targets` subcommand shares.
    struct Common: ParsableArguments {
        @OptionGroup var database: DatabaseOptions

        @OptionGroup var liveness: LivenessOptions

        @Flag(help: "Print JSON.") var json = false

        func controls() async throws -> TargetControls {
            TargetControls(deadAfter: try await liveness.resolve(database))
        }

        func print(_ targets: [TargetControls.TargetInfo]) throws {
            if json {
                try OutputFormat.printJSON(targets)
                return
            }
            OutputFormat.printTable(
                header: [
                    "TARGET", "STATE", "STORED LIMITS", "SERVED BY", "PENDING", "DUE", "IN FLIGHT", "CALLS/S (1 MIN)", "BLOCKED KEYS",
                    "PAUSED SINCE", "CIRCUIT",
                ],
                rows: targets.map { target in
                    [
                        target.name, target.state, target.storedLimitsSummary, "\(target.servedBy) node\(target.servedBy == 1 ? "" : "s")",
                        String(target.pending), String(target.due), String(target.inFlight), String(format: "%.1f", target.callsPerSecond),
                        String(target.blockedKeys), target.pausedAt.map { "\($0.formatted(.iso8601)) by \(target.pausedBy ?? "?")" } ?? "",
                        target.circuitSummary,
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
            let controls = try await common.controls()
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
            let controls = try await common.controls()
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
            let controls = try await common.controls()
            let target = try await TargetsCommand.controlling {
                try await common.database.withConnection { try await controls.resume(name, on: $0) }
            }
            try common.print([target])
        }
    }

    /// `asynctask targets set NAME --rate 50/s --global-concurrency 20 [--clear]`.
    struct SetLimits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract:
                "Store limits for a target that every node applies within one heartbeat, in place of its config file's, until cleared (--clear)."
        )
        @OptionGroup var common: Common
        @Argument(help: "The target's name (case-sensitive).") var name: String
        @Option(help: "Calls per second from all nodes together, retries included: 200/s, 30/m, 1000/h.") var rate: String?
        @Option(help: "Calls beyond the rate allowed after a quiet spell (default: one second's worth of the rate).") var burst: Int?
        @Option(help: "Calls in flight from all nodes together.") var globalConcurrency: Int?
        @Option(help: "Calls in flight per concurrency key from all nodes together.") var keyConcurrency: Int?
        @Flag(help: "Remove every stored limit first (alone: the config files decide again).") var clear = false
        @Option(help: "Who sets them, shown in the listing (default: user@host).") var by: String?

        func run() async throws {
            let controls = try await common.controls()
            var change = TargetControls.LimitChange(
                burst: burst, globalConcurrency: globalConcurrency, keyConcurrency: keyConcurrency, clear: clear)
            if let rate {
                do {
                    change.rate = try CallRate(parsing: rate)
                } catch {
                    throw CLIFailure.badInput("--rate: \(error.description)")
                }
            }
            let author = by ?? "\(ProcessInfo.processInfo.environment["USER"] ?? "unknown")@\(ProcessInfo.processInfo.hostName)"
            let target = try await TargetsCommand.controlling {
                try await common.database.withConnection { try await controls.setLimits(name, change, by: author, on: $0) }
            }
            try common.print([target])
        }
    }

    /// `asynctask targets blocked [NAME]`.
    struct Blocked: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List ordering keys held by a failed head (ordering.on_failure: block), with the attempts waiting behind each.")
        @OptionGroup var common: Common
        @Argument(help: "Only this target's keys.") var name: String?
        @Option(help: "At most this many keys.") var limit = 100

        func run() async throws {
            let controls = try await common.controls()
            guard limit >= 1 else { throw CLIFailure.badInput("--limit must be at least 1 (got \(limit))") }
            let keys = try await common.database.withConnection { try await controls.blockedKeys(of: name, limit: limit, on: $0) }
            if common.json {
                try OutputFormat.printJSON(keys)
                return
            }
            OutputFormat.printTable(
                header: ["TARGET", "ORDERING KEY", "HEAD", "FAILED AT", "WAITING", "LAST ERROR"],
                rows: keys.map { key in
                    [
                        key.target, key.orderingKey, String(key.headID), key.failedAt.map { $0.formatted(.iso8601) } ?? "", String(key.waiting),
                        String((key.lastError ?? "").prefix(80)),
                    ]
                })
        }
    }

    /// `asynctask targets unblock NAME KEY`.
    struct Unblock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Let a blocked ordering key move on: its failed head stays failed and the key's next attempt runs (to run the head again instead: asynctask attempts retry ID)."
        )
        @OptionGroup var common: Common
        @Argument(help: "The target's name (case-sensitive).") var name: String
        @Argument(help: "The ordering key.") var key: String

        func run() async throws {
            let controls = try await common.controls()
            let head = try await TargetsCommand.controlling {
                try await common.database.withConnection { try await controls.unblock(name, key: key, on: $0) }
            }
            if common.json {
                try OutputFormat.printJSON(["target": name, "ordering_key": key, "head_id": String(head)])
            } else {
                Swift.print("unblocked ordering key \(key) of \(name): attempt \(head) stays failed; the key's next attempt runs")
            }
        }
    }

    /// Runs a control; an unknown target or a bad limit is bad input (exit 2), naming the known ones or the value.
    static func controlling<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as TargetControlError {
            throw CLIFailure.badInput(error.description)
        }
    }
}
