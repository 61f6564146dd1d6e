import ArgumentParser
import AsyncTask
import AsyncTaskWorker
import Foundation

/// `--dead-after`: which worker nodes count as live, for every command that judges it (`nodes`, `doctor`,
/// `targets`, `enqueue`'s warning, the target default `attempts` shows). All of them apply `LiveNodes`' rule with
/// the limit resolved here, so they agree with each other and, given the workers' config, with the nodes.
struct LivenessOptions: ParsableArguments {
    @Option(
        name: .customLong("dead-after"),
        help:
            "Heartbeats older than this count as not live (default: the workers' node.dead_after from --config or ASYNCTASK_NODE_DEAD_AFTER, else 10s)."
    )
    var deadAfter: String?

    /// The limit: `--dead-after`, else `node.dead_after` as a node would read it (the `--config` file under the
    /// `ASYNCTASK_*` variables) when either is given, else the workers' default.
    /// - Throws: `CLIFailure.badInput` for an unreadable value or config file.
    func resolve(_ database: DatabaseOptions, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Duration {
        if let deadAfter {
            do {
                return try FilterParser.duration(deadAfter, field: "dead-after")
            } catch {
                throw CLIFailure.badInput("--\(error.field): \(error.reason)")
            }
        }
        let variable = WorkerConfiguration.environmentName(forKey: "node.dead_after")
        guard database.configFile != nil || environment[variable] != nil else { return LiveNodes.defaultDeadAfter }
        do {
            return try await WorkerConfiguration.loadNode(file: database.configFile, environment: environment).deadAfter
        } catch {
            throw CLIFailure.badInput(error.description)
        }
    }
}
