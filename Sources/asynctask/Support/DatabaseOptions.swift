import ArgumentParser
import AsyncTaskWorker
import Configuration
import Foundation
import PostgresClient
import SystemPackage

/// Where the database is, for every command that needs it: `--database-url`, else `ASYNCTASK_DATABASE_URL`,
/// else `DATABASE_URL`, else `database_url` in the `--config` file.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL, e.g. postgresql://user:pass@host:5432/db.")
    var databaseURL: String?

    @Option(name: .customLong("config"), help: "A worker config file (YAML) whose database_url is used when no URL is given otherwise.")
    var configFile: String?

    /// The resolved URL and where it came from.
    func resolveURL(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> (url: String, source: String) {
        // A misspelled ASYNCTASK_ variable must not fall back to DATABASE_URL or the file without a word.
        do {
            try WorkerConfiguration.checkDatabaseVariable(environment)
        } catch {
            throw CLIFailure.badInput(error.description)
        }
        if let databaseURL, !databaseURL.isEmpty { return (databaseURL, "--database-url") }
        if let url = environment["ASYNCTASK_DATABASE_URL"], !url.isEmpty { return (url, "ASYNCTASK_DATABASE_URL") }
        if let url = environment["DATABASE_URL"], !url.isEmpty { return (url, "DATABASE_URL") }
        if let configFile {
            guard FileManager.default.fileExists(atPath: configFile) else {
                throw CLIFailure.badInput("config file \(configFile) does not exist")
            }
            let provider: FileProvider<YAMLSnapshot>
            do {
                provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile))
            } catch {
                // Position and problem only: Yams' description quotes the file, database password included.
                throw CLIFailure.badInput("config file \(configFile) is not valid YAML: \(YAMLErrorSummary.describe(error) ?? "\(error)")")
            }
            let reader = ConfigReader(provider: provider)
            if let url = reader.string(forKey: "database_url", isSecret: true), !url.isEmpty {
                return (url, "database_url in \(configFile)")
            }
        }
        // Bad usage (exit 2): the command was not told where the database is.
        throw CLIFailure.badInput(
            "no database given: pass --database-url, set ASYNCTASK_DATABASE_URL or DATABASE_URL, or give --config with database_url")
    }

    /// Runs `body` with one connection, closed afterwards.
    func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await connect().closingAfter(body)
    }

    /// Opens one connection, turning failures into one clear line (password masked) with exit code 1.
    func connect() async throws -> PostgresConnection {
        let (url, source) = try await resolveURL()
        let configuration: PostgresConfiguration
        do {
            configuration = try PostgresConfiguration(url: url, applicationName: "asynctask-cli")
        } catch {
            throw CLIFailure.badInput("\(source): \(error.message)")
        }
        do {
            return try await PostgresConnection.connect(configuration)
        } catch {
            throw CLIFailure.runtime("database unreachable (\(source)): \(error.message)")
        }
    }
}
