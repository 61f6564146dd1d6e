import ArgumentParser
import AsyncTask
import Foundation
import PostgresClient

/// `asynctask attempts …`: look at and steer individual attempts.
struct AttemptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attempts",
        abstract: "List, show, expire, fail, retry or purge attempts.",
        subcommands: [List.self, Show.self, Expire.self, Fail.self, Retry.self, Purge.self])

    /// Attempt ids on the command line, validated as positive integers.
    struct IDs: ParsableArguments {
        @Argument(help: "Attempt ids.")
        var ids: [String]

        func parsed() throws -> [Int64] {
            try Self.parse(ids)
        }

        /// Positive integer ids, or a bad-input failure naming the first bad one.
        static func parse(_ ids: [String]) throws -> [Int64] {
            guard !ids.isEmpty else { throw CLIFailure.badInput("give at least one attempt id") }
            return try ids.map { text in
                guard let id = Int64(text), id > 0 else { throw CLIFailure.badInput("'\(text)' is not an attempt id (a positive integer)") }
                return id
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every field of attempts and their recent tries (arguments are never printed).",
            discussion: "With --json, one id prints one object and several ids an array of them.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var ids: IDs
        @OptionGroup var liveness: LivenessOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let ids = try ids.parsed()
            // Before a first try, the limit shown is the live nodes' default: live as `nodes` judges it.
            let queries = AttemptQueries(deadAfter: try await liveness.resolve(database))
            let views = try await database.withConnection { connection in
                var views: [AttemptView] = []
                for id in ids {
                    guard let view = try await queries.detail(id, on: connection) else {
                        throw CLIFailure.runtime("attempt \(id) not found")
                    }
                    views.append(view)
                }
                return views
            }
            if json {
                if views.count == 1 { try OutputFormat.printJSON(views[0]) } else { try OutputFormat.printJSON(views) }
            } else {
                for view in views { view.printDetail() }
            }
        }
    }

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expire pending attempts, by id or by filter: they will not run.",
            discussion: "With filters instead of ids, every matching pending attempt is expired in batches, after a confirmation (or --yes).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: Selection
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await selection.run(.expire, database: database, json: json, verb: "expired")
        }
    }

    struct Fail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fail pending attempts, by id or by filter.",
            discussion: "With filters instead of ids, every matching pending attempt is failed in batches, after a confirmation (or --yes).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: Selection
        @Option(help: "Reason recorded as the attempt's last error.") var reason: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await selection.run(.fail(reason: reason), database: database, json: json, verb: "failed")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put failed or expired attempts back to pending, runnable now, by id or by filter.",
            discussion:
                "With filters instead of ids, every matching failed or expired attempt is retried in batches, after a confirmation (or --yes).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var selection: Selection
        @Option(help: "How many more tries each attempt gets.") var tries: Int = 1
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard tries >= 1 else { throw ValidationError("--tries must be at least 1") }
        }

        func run() async throws {
            try await selection.run(.retry(extraTries: tries), database: database, json: json, verb: "pending (retry)")
        }
    }

    /// Applies an action to each id in its own statement; reports every refusal and exits 1 if any.
    static func apply(_ action: AttemptActionRequest, ids: [Int64], database: DatabaseOptions, json: Bool, verb: String) async throws {
        var changed: [AttemptView] = []
        var refused: [String] = []
        try await database.withConnection { connection in
            for id in ids {
                do {
                    changed.append(AttemptView(try await AttemptActions().apply(action, to: id, on: connection)))
                } catch let error as AttemptActionError {
                    refused.append(error.description)
                }
            }
        }
        if json {
            try OutputFormat.printJSON(["changed": changed.map(\.id)])
        } else {
            for view in changed { print("attempt \(view.id): \(verb)") }
        }
        if !refused.isEmpty {
            throw CLIFailure.runtime(refused.joined(separator: "; "))
        }
    }
}
