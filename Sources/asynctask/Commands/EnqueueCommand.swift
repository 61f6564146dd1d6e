import ArgumentParser
import AsyncTask
import Foundation
import PostgresClient

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

    @Option(
        help:
            "Arguments as a JSON object, @FILE to read them from a file, or - for standard input (encrypted when the --config file has encryption keys)."
    )
    var args: String = "{}"

    @Option(help: "Idempotence token: a second enqueue with the same target, method and token returns the first id.")
    var token: String?

    @Option(help: "Not before this time: ISO 8601 (2026-12-01T09:00:00Z) or a delay from now (+30s, +5m, +2h).")
    var at: String?

    // Unconditional: the next word is the value even when it starts with '-' (`--priority -1`).
    @Option(parsing: .unconditional, help: "Priority, lower runs first (-32768…32767).")
    var priority: Int16 = 0

    @Option(name: .customLong("max-attempts"), help: "Tries before the attempt fails (overrides the target's setting).")
    var maxAttempts: Int?

    @Option(
        name: .customLong("ordering-key"),
        help: "Attempts of the target with this key run one at a time, in enqueue order (at most 255 bytes).")
    var orderingKey: String?

    @Option(
        name: .customLong("concurrency-key"),
        help: "At most targets.<name>.key_concurrency attempts of the target with this key run at once, cluster-wide (at most 255 bytes).")
    var concurrencyKey: String?

    @OptionGroup var liveness: LivenessOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let scheduledAt = try at.map(TimeArgument.parse)
        let argumentsJSON = try ArgumentsText.read(args)
        let attempt: Attempt
        do {
            attempt = try Attempt(
                target: target, method: method, argumentsJSON: argumentsJSON, idempotenceToken: token,
                scheduledAt: scheduledAt, priority: priority, maxAttempts: maxAttempts, orderingKey: orderingKey,
                concurrencyKey: concurrencyKey)
        } catch {
            throw CLIFailure.badInput(error.description)
        }
        let queue = AttemptQueue(encryptor: try await KeysCommand.keyRing(database).map { AESGCMEncryptor(keyRing: $0) } ?? NullEncryptor())
        // Resolved before the insert: a bad --dead-after must not leave an attempt behind an error.
        let servedTargets = ServedTargets(deadAfter: try await liveness.resolve(database))
        let (result, served) = try await database.withConnection { connection in
            let result = try await connection.withTransaction { connection in
                try await queue.enqueueReporting(attempt, on: connection)
            }
            // Advice only: the attempt is committed either way, so a failed look-up prints nothing. Live means what
            // `nodes` and `doctor` mean by it (LiveNodes, the same --dead-after).
            return (result, try? await servedTargets.snapshot(on: connection))
        }
        for line in Self.notices(result, attempt: attempt) + (served?.warning(forTarget: target).map { ["warning: \($0)"] } ?? []) {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if json {
            try OutputFormat.printJSON(Output(result))
        } else {
            print(result.id)
        }
    }

    /// The stderr lines for an attempt that already existed: one notice, and a loud warning when the
    /// arguments differ (the new ones were discarded).
    static func notices(_ result: EnqueueResult, attempt: Attempt) -> [String] {
        guard !result.created, let token = attempt.idempotenceToken else { return [] }
        var lines = [
            "notice: attempt \(result.id) already existed for token \(token) (\(attempt.target).\(attempt.methodName)); nothing was enqueued"
        ]
        switch result.arguments {
        case .different:
            lines.append(
                "WARNING: attempt \(result.id) has DIFFERENT arguments from --args; the new arguments were DISCARDED (use a new token to enqueue them)"
            )
        case .notComparable(let reason):
            lines.append("warning: cannot tell whether attempt \(result.id) has the same arguments: \(reason)")
        case .same, nil:
            break
        }
        return lines
    }

    /// `--json`: `{"id":4,"created":false,"arguments":"different"}`; `arguments` only for an existing attempt.
    struct Output: Encodable {
        let id: Int64
        let created: Bool
        let arguments: String?

        init(_ result: EnqueueResult) {
            id = result.id
            created = result.created
            switch result.arguments {
            case .same: arguments = "same"
            case .different: arguments = "different"
            case .notComparable: arguments = "not_comparable"
            case nil: arguments = nil
            }
        }
    }
}

/// `--args` values: JSON text, `@FILE` (read from a file) or `-` (read from standard input), for arguments too
/// large for a command line.
enum ArgumentsText {
    static func read(_ value: String) throws -> Data {
        if value == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        guard value.hasPrefix("@") else { return Data(value.utf8) }
        let path = String(value.dropFirst())
        guard !path.isEmpty else { throw CLIFailure.badInput("--args @: give a file name after @ (--args @args.json)") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIFailure.badInput("--args @\(path): cannot read the file: \(error.localizedDescription)")
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
