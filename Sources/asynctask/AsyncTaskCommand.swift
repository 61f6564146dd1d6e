import ArgumentParser
import Foundation

/// `asynctask`: run and operate an AsyncTask worker cluster.
///
/// Exit codes (DESIGN §9): 0 success, 1 runtime failure (database unreachable, action refused), 2 bad usage or
/// input.
@main
struct AsyncTaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asynctask",
        abstract: "Run and operate an AsyncTask worker cluster.",
        version: AsyncTaskVersion.current,
        subcommands: [
            MigrateCommand.self, WorkerCommand.self, ConfigCommand.self, EnqueueCommand.self, AttemptsCommand.self, NodesCommand.self,
            StatsCommand.self, DoctorCommand.self, KeysCommand.self, TargetsCommand.self, BenchCommand.self, ExampleTargetCommand.self,
            DevCommand.self,
        ]
    )

    /// Parses and runs, mapping errors to the documented exit codes with a one-line message.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("error: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .failure && error is ExitCode {
                exit(withError: error)
            }
            if code == .validationFailure {
                // Usage errors: ArgumentParser's message (with usage) and exit 2 instead of EX_USAGE (64).
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            FileHandle.standardError.write(Data("error: \(CLIFailure.describe(error))\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// The version printed by `asynctask --version` and recorded in the nodes table.
enum AsyncTaskVersion {
    static let current = "0.1.0"
}
