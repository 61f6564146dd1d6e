import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Bad input to the `asynctask` process itself: config files with every kind of mistake (through `config check`
/// and `worker --config`), and command-line arguments that are malformed or carry SQL metacharacters.
/// Each is one clear line on stderr with exit 2 (DESIGN §9), or a correct (empty) result; nothing is echoed
/// that should stay secret, and the attempts table is intact afterwards.
@Suite("bad input to the asynctask process")
struct BadInputCLITests {
    let cli = CommandRunner()

    static let secret = "hunter2-s3cr3t-Zq9"
    static let validKey = Data(repeating: 7, count: 32).base64EncodedString()

    /// A config that is right, to which each case adds one mistake. The database URL and header carry secrets.
    static let good = """
        database_url: postgresql://app:\(secret)@127.0.0.1:1/app
        node: { concurrency: 8 }
        targets:
          OrderClient: { url: "http://127.0.0.1:1/rpc", headers: { Authorization: "Bearer \(secret)" } }

        """

    /// One mistake per case: the config text, and what the error line must name.
    static let configMistakes: [(name: String, yaml: String, mentions: String)] = [
        ("YAML syntax error", good + "node: [unclosed\n", "not valid YAML"),
        ("tab indentation", good.replacingOccurrences(of: "  OrderClient", with: "\tOrderClient"), "not valid YAML"),
        ("a list at the top level", "- database_url\n- targets\n", "top level must be a mapping"),
        ("unknown top-level key", good + "retries: 5\n", "retries"),
        ("unknown nested key", good.replacingOccurrences(of: "concurrency: 8", with: "concurency: 8"), "node.concurency"),
        ("wrong type", good.replacingOccurrences(of: "concurrency: 8", with: "concurrency: lots"), "node.concurrency"),
        ("zero concurrency", good.replacingOccurrences(of: "concurrency: 8", with: "concurrency: 0"), "node.concurrency"),
        ("negative concurrency", good.replacingOccurrences(of: "concurrency: 8", with: "concurrency: -5"), "node.concurrency"),
        ("bad duration", good.replacingOccurrences(of: "concurrency: 8", with: "lease: 30 parsecs"), "node.lease"),
        ("negative duration", good + "retention: { interval: -1s }\n", "retention.interval"),
        (
            "missing database_url", good.replacingOccurrences(of: "database_url: postgresql://app:\(secret)@127.0.0.1:1/app\n", with: ""),
            "database_url"
        ),
        ("no targets", good.components(separatedBy: "targets:")[0] + "targets: {}\n", "targets"),
        (
            "unknown protocol",
            good.replacingOccurrences(of: "url: \"http://127.0.0.1:1/rpc\"", with: "url: \"http://127.0.0.1:1/rpc\", protocol: soap"),
            "targets.OrderClient.protocol"
        ),
        ("URL with another scheme", good.replacingOccurrences(of: "http://127.0.0.1:1/rpc", with: "ftp://127.0.0.1/rpc"), "targets.OrderClient.url"),
        ("not a URL", good.replacingOccurrences(of: "http://127.0.0.1:1/rpc", with: "orders service"), "targets.OrderClient.url"),
        ("missing ${VAR}", good.replacingOccurrences(of: "http://127.0.0.1:1/rpc", with: "http://${ORDERS_HOST_NOT_SET}/rpc"), "ORDERS_HOST_NOT_SET"),
        ("bad header name", good.replacingOccurrences(of: "Authorization:", with: "\"Bad Header\":"), "targets.OrderClient.headers.Bad Header"),
        ("bad log level", good + "log: { level: loud }\n", "log.level"),
        ("encryption key too short", good + "encryption: { primary: k1, keys: { k1: \"c2hvcnQ=\" } }\n", "encryption.keys.k1"),
        ("encryption key not base64", good + "encryption: { primary: k1, keys: { k1: \"\(secret)\" } }\n", "encryption.keys.k1"),
        ("unknown primary key", good + "encryption: { primary: k2, keys: { k1: \"\(validKey)\" } }\n", "encryption.primary"),
        ("webhook without a secret", good + "webhook: { url: \"http://127.0.0.1:1/hook\" }\n", "webhook.secret"),
        (
            "webhook with an unknown event", good + "webhook: { url: \"http://127.0.0.1:1/hook\", secret: \(secret), events: [attempt.exploded] }\n",
            "webhook.events"
        ),
        ("admin listen without a port", good + "admin: { listen: \"127.0.0.1\" }\n", "admin.listen"),
    ]

    /// Writes `text` to a fresh file; returns its path.
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-bad-\(UUID().uuidString.prefix(8)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Checks `output` is exit 2 and one `error:` line naming `mentions`, with no secret and no crash report.
    func expectOneClearLine(_ output: CommandRunner.Output, mentions: String, _ what: String) {
        #expect(output.exitCode == 2, "\(what): exit \(output.exitCode): \(output.stderr)")
        let lines = output.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "\(what): not one line:\n\(output.stderr)")
        #expect(output.stderr.hasPrefix("error: "), "\(what): \(output.stderr)")
        #expect(output.stderr.contains(mentions), "\(what): does not name '\(mentions)': \(output.stderr)")
        #expect(!output.stderr.contains(Self.secret) && !output.stdout.contains(Self.secret), "\(what): a secret was echoed: \(output.stderr)")
        for crash in ["Fatal error", "Stack dump", "backtrace", "Swift runtime failure"] {
            #expect(!output.stderr.contains(crash), "\(what): \(output.stderr)")
        }
    }

    @Test("the valid base config passes `config check` (so each mistake below is the only one)")
    func baseConfigIsValid() async throws {
        let path = try write(Self.good)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try await cli.run(["config", "check", path])
        #expect(output.exitCode == 0, "\(output.stderr)")
        #expect(!output.stdout.contains(Self.secret))
    }

    @Test("config mistakes: `config check` and `worker --config` exit 2 with one line naming the problem", arguments: configMistakes)
    func configMistake(name: String, yaml: String, mentions: String) async throws {
        let path = try write(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectOneClearLine(try await cli.run(["config", "check", path]), mentions: mentions, "config check, \(name)")
        expectOneClearLine(try await cli.run(["worker", "--config", path], timeout: .seconds(30)), mentions: mentions, "worker, \(name)")
    }

    @Test("config files that cannot be read: missing, a directory, not UTF-8, empty")
    func unreadableConfigFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-bad-dir-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = directory + "/binary.yaml"
        try Data([0x64, 0x61, 0x74, 0x61, 0xFF, 0xFE, 0x00, 0xC3, 0x28, 0x0A]).write(to: URL(fileURLWithPath: binary))
        let empty = directory + "/empty.yaml"
        try Data().write(to: URL(fileURLWithPath: empty))
        for (path, mentions) in [
            ("/nonexistent/asynctask.yaml", "/nonexistent/asynctask.yaml"), (directory, directory), (binary, binary), (empty, "empty"),
        ] {
            expectOneClearLine(try await cli.run(["config", "check", path]), mentions: mentions, "config check \(path)")
            expectOneClearLine(try await cli.run(["worker", "--config", path], timeout: .seconds(30)), mentions: mentions, "worker --config \(path)")
        }
    }

    @Test("a database URL the node cannot parse stops the worker with one line, the password masked")
    func badDatabaseURL() async throws {
        let path = try write(Self.good.replacingOccurrences(of: "127.0.0.1:1/app", with: "127.0.0.1:notaport/app"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectOneClearLine(
            try await cli.run(["worker", "--config", path], timeout: .seconds(30)), mentions: "database_url", "worker, bad database URL")
    }

    @Test("CLI arguments: bad ids exit 2 naming the id; SQL metacharacters in filters match nothing; the table stays intact")
    func hostileArguments() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            let attempts = try (0..<3).map { n in try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"n":\#(n)}"#.utf8)) }
            let ids = try await database.withConnection { try await AttemptQueue().enqueue(attempts, on: $0) }

            let badIDs: [([String], String)] = [
                (["attempts", "show", "abc"], "abc"),
                (["attempts", "show", "-1"], "<ids>"),
                (["attempts", "show", "--", "-1"], "'-1' is not an attempt id"),
                (["attempts", "show", "0"], "'0'"),
                (["attempts", "show", "99999999999999999999"], "99999999999999999999"),
                (["attempts", "show", "1.5"], "1.5"),
                (["attempts", "show", "１２"], "１２"),
                (["attempts", "retry", "1,2"], "1,2"),
                (["attempts", "expire", "\(ids[0]) OR 1=1"], "OR 1=1"),
                (["attempts", "fail", "\(ids[0]);DELETE FROM async_task_attempts"], "DELETE"),
                (["attempts", "list", "--status", "pending' OR '1'='1"], "--status"),
                (["attempts", "list", "--since", "'; DROP TABLE async_task_attempts; --"], "--since"),
                (["attempts", "list", "--limit", "99999999999999999999"], "--limit"),
                (["attempts", "list", "--before", "-1"], "--before"),
                (["attempts", "purge", "--older-than", "1 OR 1=1"], "--older-than"),
            ]
            for (arguments, mentions) in badIDs {
                let output = try await cli.run(arguments, environment: env)
                #expect(output.exitCode == 2, "\(arguments): exit \(output.exitCode): \(output.stderr)")
                #expect(output.stderr.contains(mentions), "\(arguments): \(output.stderr)")
                #expect(!output.stderr.contains("Fatal error"), "\(arguments): \(output.stderr)")
            }

            // Metacharacters in free-text filters are values, never SQL: they match no attempt.
            let hostileValues = [
                "x'; DROP TABLE async_task_attempts; --", "OrderClient' OR '1'='1", "%", "OrderClient%", "_rderClient", "\\", "\"OrderClient\"",
            ]
            for value in hostileValues {
                for option in ["--target", "--method"] {
                    let output = try await cli.run(["attempts", "list", option, value, "--json"], environment: env)
                    #expect(output.exitCode == 0, "\(option) \(value): \(output.stderr)")
                    let rows = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [Any]
                    #expect(rows?.isEmpty == true, "\(option) \(value) matched: \(output.stdout)")
                }
                let bulk = try await cli.run(["attempts", "expire", "--target", value, "--yes"], environment: env)
                #expect(bulk.exitCode == 0, "expire --target \(value): \(bulk.stderr)")
            }
            let exact = try await cli.run(["attempts", "list", "--target", "OrderClient", "--json"], environment: env)
            #expect((try JSONSerialization.jsonObject(with: Data(exact.stdout.utf8)) as? [Any])?.count == 3, "the plain filter still matches")

            // The table and its rows are as they were.
            let intact = try await database.withConnection { connection in
                try await connection.query(
                    PostgresStatement(
                        name: "intact",
                        sql: """
                            SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) AS total, array_agg(id ORDER BY id) AS ids FROM async_task_attempts
                            """)
                ).single()
            }
            #expect(try intact.decode(Int.self, "pending") == 3)
            #expect(try intact.decode(Int.self, "total") == 3)
            #expect(try intact.decode([Int64].self, "ids") == ids)
        }
    }

    @Test("enqueue refuses arguments PostgreSQL cannot store with exit 2 naming the problem, and stores nothing")
    func enqueueUnstorableArguments() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            let cases: [([String], String)] = [
                (["--args", #"{"note":"nul \u0000 here"}"#], "method_args"),
                (["--args", #"{"order": 1"#], "method_args"),
                (["--args", "[1, 2]"], "method_args"),
                (["--args", #"{"lone":"\ud800"}"#], "method_args"),
                (["--token", ""], "token"),
            ]
            for (extra, mentions) in cases {
                let arguments = ["enqueue", "--target", "OrderClient", "--method", "fulfill"] + extra
                let output = try await cli.run(arguments, environment: env)
                #expect(output.exitCode == 2, "\(extra): exit \(output.exitCode): \(output.stderr)")
                #expect(output.stderr.contains(mentions), "\(extra): \(output.stderr)")
                #expect(output.stderr.split(separator: "\n").count == 1, "\(extra): \(output.stderr)")
            }
            let count = try await database.withConnection {
                try await $0.query(PostgresStatement(name: "count", sql: "SELECT count(*) FROM async_task_attempts")).single().decode(Int.self, at: 0)
            }
            #expect(count == 0)
        }
    }
}
