import ArgumentParser
import AsyncTask
import PostgresClient
import Foundation

/// `asynctask enqueue`: inserts one attempt, for operators and shell scripts. With `--config` naming a file that
/// has `encryption` keys, the arguments are encrypted with the primary key, as the library's `enqueue` does.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue one attempt and print its id.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Target name from the worker config, e.g. OrderClient.")
    var target: String

    @Option(help: "Method to call on the target, e.g. fulfill.")
    var method: String

    @Option(help: "Arguments as a JSON object (encrypted when the --config file has encryption keys).")
    var args: String = "{}"

    @Option(help: "Idempotence token: a second enqueue with the same target, method and token returns the first id.")
    var token: String?

    @Option(help: "Not before this time: ISO 8601 (2026-12-01T09:00:00Z) or a delay from now (+30s, +5m, +2h).")
    var at: String?

    @Option(help: "Priority, lower runs first (-32768…32767).")
    var priority: Int16 = 0

    @Option(name: .customLong("max-attempts"), help: "Tries before the attempt fails (overrides the target's setting).")
    var maxAttempts: Int?

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let scheduledAt = try at.map(TimeArgument.parse)
        let attempt: Attempt
        do {
            attempt = try Attempt(
                target: target, method: method, argumentsJSON: Data(args.utf8), idempotenceToken: token,
                scheduledAt: scheduledAt, priority: priority, maxAttempts: maxAttempts)
        } catch {
            throw CLIFailure.badInput(error.description)
        }
        let queue = AttemptQueue(encryptor: try await KeysCommand.keyRing(database).map { AESGCMEncryptor(keyRing: $0) } ?? NullEncryptor())
        let id = try await database.withConnection { connection in
            try await connection.withTransaction { connection in
                try await queue.enqueue(attempt, on: connection)
            }
        }
        if json {
            try OutputFormat.printJSON(["id": id])
        } else {
            print(id)
        }
    }
}

/// Parses `--at` values: ISO 8601 instants or `+<duration>` from now.
enum TimeArgument {
    static func parse(_ text: String) throws -> Date {
        if text.hasPrefix("+") {
            guard let seconds = DurationText.seconds(String(text.dropFirst())) else {
                throw CLIFailure.badInput("--at '\(text)': not a delay like +30s, +5m, +2h")
            }
            return Date().addingTimeInterval(seconds)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        throw CLIFailure.badInput("--at '\(text)': not an ISO 8601 time with a zone (2026-12-01T09:00:00Z) or a delay (+5m)")
    }
}

/// Durations written `250ms`, `2s`, `5m`, `1h`, `7d`; a bare number is seconds.
enum DurationText {
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return value * factor
        }
        guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
        return value
    }
}
