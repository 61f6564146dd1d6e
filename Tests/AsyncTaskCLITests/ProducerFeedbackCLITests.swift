import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("asynctask CLI: what a producer or operator is told (issue 17)")
struct ProducerFeedbackCLITests {
    let cli = CommandRunner()

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test("a repeated token says the attempt existed (created false) and warns loudly when the arguments differ")
    func repeatedToken() async throws {
        try await TestDatabase.with { database throws in
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            #expect(try await cli.run(["migrate"], environment: env).exitCode == 0)
            func enqueue(_ args: String) async throws -> CommandRunner.Output {
                try await cli.run(
                    ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", args, "--token", "cli-100", "--json"], environment: env)
            }
            let first = try await enqueue(#"{"order_number":100}"#)
            #expect(first.exitCode == 0, "\(first.stderr)")
            let created = try json(first.stdout)
            #expect(created["created"] as? Bool == true && created["arguments"] == nil, "\(first.stdout)")
            #expect(!first.stderr.contains("already existed"))
            let id = try #require(created["id"] as? Int)

            let same = try await enqueue(#"{ "order_number": 100 }"#)
            let sameJSON = try json(same.stdout)
            #expect(
                same.exitCode == 0 && sameJSON["id"] as? Int == id && sameJSON["created"] as? Bool == false
                    && sameJSON["arguments"] as? String == "same", "\(same.stdout)")
            #expect(
                same.stderr.contains("notice: attempt \(id) already existed for token cli-100") && !same.stderr.contains("WARNING"), "\(same.stderr)")

            let different = try await enqueue(#"{"order_number":999}"#)
            let differentJSON = try json(different.stdout)
            #expect(
                different.exitCode == 0 && differentJSON["created"] as? Bool == false && differentJSON["arguments"] as? String == "different",
                "\(different.stdout)")
            #expect(different.stderr.contains("WARNING: attempt \(id) has DIFFERENT arguments"), "\(different.stderr)")
            // Without --json: the id alone on stdout, the same lines on stderr.
            let plain = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", #"{"order_number":7}"#, "--token", "cli-100"],
                environment: env)
            #expect(plain.stdout == "\(id)\n" && plain.stderr.contains("DIFFERENT"), "\(plain.stdout) \(plain.stderr)")
        }
    }

    @Test("--priority -1 (a negative number as a separate word), --args @FILE and --args - (standard input)")
    func valuesAndFiles() async throws {
        try await TestDatabase.with { database throws in
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            #expect(try await cli.run(["migrate"], environment: env).exitCode == 0)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-args-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("args.json")
            let big = String(repeating: "x", count: 300_000)
            try Data(#"{"order_number":1,"note":"\#(big)"}"#.utf8).write(to: file)

            let negative = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--priority", "-1", "--json"], environment: env)
            #expect(negative.exitCode == 0, "\(negative.stderr)")
            let fromFile = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", "@\(file.path)", "--json"], environment: env)
            #expect(fromFile.exitCode == 0, "\(fromFile.stderr)")
            var environment = ProcessInfo.processInfo.environment
            environment["ASYNCTASK_DATABASE_URL"] = database.url
            let fromStdin = try await ChildProcess.run(
                [
                    "/bin/bash", "-c", #"exec "$0" enqueue --target OrderClient --method fulfill --args - --json < "$1""#,
                    try CommandRunner.executableURL().path, file.path,
                ],
                environment: environment)
            #expect(fromStdin.exitCode == 0, "\(fromStdin.stderr)")
            let missing = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", "@\(directory.path)/nope.json"], environment: env)
            #expect(missing.exitCode == 2 && missing.stderr.contains("nope.json"), "\(missing.stderr)")

            let ids =
                try [negative, fromFile].map { try #require(try json($0.stdout)["id"] as? Int) } + [
                    try #require(try json(fromStdin.stdout)["id"] as? Int)
                ]
            try await database.withConnection { connection throws in
                let rows = try await connection.query(
                    PostgresStatement(
                        name: "rows",
                        sql: """
                            SELECT id, priority, length(method_args->>'note') AS note FROM async_task_attempts WHERE id = ANY($1) ORDER BY id
                            """), [ids.map(Int64.init)])
                #expect(try rows.map { try $0.decode(Int.self, "priority") } == [-1, 0, 0])
                #expect(try rows.map { try $0.decode(Int?.self, "note") } == [nil, 300_000, 300_000])
            }
        }
    }

    @Test("config check: a misspelled ASYNCTASK_ variable exits 2 with the nearest name; every section is summarised")
    func configCheck() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-check-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("worker.yaml").path
        try """
        database_url: postgresql://app:pw@db/app
        targets: { OrderClient: { url: http://orders/rpc } }
        webhook: { url: http://hooks/x, secret: "0123456789abcdef0123" }
        admin: { listen: "127.0.0.1:9191", token: "0123456789abcdef" }
        retention: { succeeded: 1d }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let typo = try await cli.run(["config", "check", file], environment: ["ASYNCTASK_NODE_CONCURENCY": "5"])
        #expect(typo.exitCode == 2, "\(typo.stdout)\(typo.stderr)")
        #expect(
            typo.stderr.contains("ASYNCTASK_NODE_CONCURENCY") && typo.stderr.contains("did you mean ASYNCTASK_NODE_CONCURRENCY?"), "\(typo.stderr)")
        let unsplit = try await cli.run(["config", "check", file], environment: ["ASYNCTASK_TARGETS_ORDERCLIENT_URL": "http://other/rpc"])
        #expect(unsplit.exitCode == 0 && unsplit.stdout.contains("target OrderClient → http://other/rpc"), "\(unsplit.stdout)\(unsplit.stderr)")

        let check = try await cli.run(["config", "check", file])
        #expect(check.exitCode == 0, "\(check.stderr)")
        for section in [
            "  database: postgresql://app:***@db/app", "  node: ", "  target OrderClient", "  webhook: http://hooks/x", "1 secret(s)",
            "  admin: listen 127.0.0.1:9191, token set", "  encryption: none", "  log: level info",
            // Durations as the config writes them (was "86400.0 seconds"), defaults included.
            "ok: node concurrency 512, lease 30s,", "  node: heartbeat 2s, dead_after 10s, poll_interval 1s,", "shutdown_grace 25s",
            "  retention: succeeded 1d, failed 30d, interval 1m", "format auto, repeat_window 1m",
        ] {
            #expect(check.stdout.contains(section), "missing \(section) in:\n\(check.stdout)")
        }
        #expect(!check.stdout.contains(" seconds"), "a duration as Swift prints it:\n\(check.stdout)")
        #expect(!check.stdout.contains("0123456789abcdef"), "a secret in the summary")
        #expect(check.stdout.contains("read_token not set"), "\(check.stdout)")

        // The sections that show more when configured: encryption keys and the admin read token.
        let key1 = Data(repeating: 1, count: 32).base64EncodedString()
        let key2 = Data(repeating: 2, count: 32).base64EncodedString()
        let full = directory.appendingPathComponent("full.yaml").path
        try """
        database_url: postgresql://app:pw@db/app
        targets: { OrderClient: { url: http://orders/rpc } }
        admin: { listen: "127.0.0.1:9191", token: "0123456789abcdef", read_token: "fedcba9876543210" }
        encryption: { primary: k2, keys: { k1: "\(key1)", k2: "\(key2)" } }
        """.write(toFile: full, atomically: true, encoding: .utf8)
        let fullCheck = try await cli.run(["config", "check", full])
        #expect(fullCheck.exitCode == 0, "\(fullCheck.stderr)")
        #expect(fullCheck.stdout.contains("  encryption: primary k2, keys k1, k2"), "\(fullCheck.stdout)")
        #expect(fullCheck.stdout.contains("token set, read_token set"), "\(fullCheck.stdout)")
        #expect(!fullCheck.stdout.contains(key1) && !fullCheck.stdout.contains("fedcba9876543210"), "a secret in the summary")
    }

    @Test("node.id must be a UUID: another string exits 2 naming the key and the rule; a UUID passes")
    func nodeID() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-node-id-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func check(_ id: String) async throws -> CommandRunner.Output {
            let file = directory.appendingPathComponent("worker-\(UUID()).yaml").path
            try """
            database_url: postgresql://app@db/app
            node: { id: "\(id)" }
            targets: { OrderClient: { url: http://orders/rpc } }
            """.write(toFile: file, atomically: true, encoding: .utf8)
            return try await cli.run(["config", "check", file])
        }
        let named = try await check("worker-1")
        #expect(named.exitCode == 2, "\(named.stdout)\(named.stderr)")
        // The wording since 203dc3d: the rule (ids are UUIDs), an example, how to get one, and how to do without
        // (the error before it only said "'worker-1' is not a UUID").
        let rule = "'worker-1' is not a UUID: node ids are UUIDs (e.g. 3f2b9c1e-8a4d-4c6e-9b1a-2d5e7f9a0c3b, as `uuidgen` prints)"
        #expect(named.stderr.contains("node.id") && named.stderr.contains(rule), "\(named.stderr)")
        #expect(named.stderr.contains("leave node.id unset for a random one per process"), "\(named.stderr)")
        // From the environment, over a file without node.id (/dev/null was refused as unreadable on some
        // machines, which also exits 2 and hid whether the id was checked at all).
        let plain = directory.appendingPathComponent("plain.yaml").path
        try "database_url: postgresql://app@db/app\ntargets: { OrderClient: { url: http://orders/rpc } }\n".write(
            toFile: plain, atomically: true, encoding: .utf8)
        let fromEnvironment = try await cli.run(["config", "check", plain], environment: ["ASYNCTASK_NODE_ID": "node-a"])
        #expect(fromEnvironment.exitCode == 2, "\(fromEnvironment.stdout)\(fromEnvironment.stderr)")
        #expect(
            fromEnvironment.stderr.contains("'node-a' is not a UUID: node ids are UUIDs") && fromEnvironment.stderr.contains("uuidgen"),
            "\(fromEnvironment.stderr)")
        let uuid = try await check("6F9619FF-8B86-D011-B42D-00C04FC964FF")
        #expect(uuid.exitCode == 0, "\(uuid.stderr)")
    }

    @Test("commands without a worker config name a misspelled ASYNCTASK_ variable (exit 2) instead of falling back to DATABASE_URL")
    func misspelledVariableOutsideWorker() async throws {
        try await TestDatabase.with { database throws in
            let migrated = try await cli.run(["migrate"], environment: ["ASYNCTASK_DATABASE_URL": database.url])
            #expect(migrated.exitCode == 0, "\(migrated.stderr)")
            for command in [["attempts", "list"], ["enqueue", "--target", "OrderClient", "--method", "fulfill"], ["doctor"]] {
                let typo = try await cli.run(command, environment: ["ASYNCTASK_DATABSE_URL": database.url, "DATABASE_URL": database.url])
                #expect(typo.exitCode == 2, "\(command): \(typo.stdout)\(typo.stderr)")
                #expect(
                    typo.stderr.contains("ASYNCTASK_DATABSE_URL") && typo.stderr.contains("did you mean ASYNCTASK_DATABASE_URL?"),
                    "\(command): \(typo.stderr)")
            }
            // Nothing was enqueued by the refused command.
            let listed = try await cli.run(["attempts", "list", "--json"], environment: ["ASYNCTASK_DATABASE_URL": database.url])
            #expect(listed.exitCode == 0 && listed.stdout.filter { !$0.isWhitespace } == "[]", "\(listed.stdout)")
            // A node's variables for any target, asynctask's own and the user's own (a config file's ${ASYNCTASK_KEY_K1})
            // are accepted beside the command.
            let beside = try await cli.run(
                ["attempts", "list"],
                environment: [
                    "ASYNCTASK_DATABASE_URL": database.url, "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://orders/rpc",
                    "ASYNCTASK_TARGETS_BILLING_CONCURRENCY": "4", "ASYNCTASK_NODE_CONCURRENCY": "64", "ASYNCTASK_TARGETS": "OrderClient",
                    "ASYNCTASK_KEY_K1": "x", "ASYNCTASK_DATABASE_PASSWORD": "x",
                ])
            #expect(beside.exitCode == 0, "\(beside.stderr)")
        }
    }

    @Test("the README's plain-SQL query tells a stored token's arguments apart; the CLI's JSON keeps milliseconds")
    func readmeSameArgumentsQuery() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```sql\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        let query = try #require(blocks.first { $0.contains("AS same_arguments") }, "the README lost its same_arguments query")
        let literal = #"'{"customer_token":"c_1","order_number":7355608}'"#
        #expect(query.contains(literal), "\(query)")
        try await TestDatabase.with { database throws in
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            #expect(try await cli.run(["migrate"], environment: env).exitCode == 0)
            let enqueued = try await cli.run(
                [
                    "enqueue", "--target", "OrderClient", "--method", "fulfill", "--token", "order-7355608", "--json", "--args",
                    #"{ "order_number": 7355608, "customer_token": "c_1" }"#,
                ], environment: env)
            let id = try #require(try json(enqueued.stdout)["id"] as? Int, "\(enqueued.stdout)\(enqueued.stderr)")
            try await database.withConnection { connection throws in
                func sameArguments(_ sql: String) async throws -> [Bool] {
                    try await connection.query(PostgresStatement(name: "readme", sql: sql)).map { try $0.decode(Bool.self, "same_arguments") }
                }
                #expect(try await sameArguments(query) == [true])
                let other = query.replacingOccurrences(of: literal, with: #"'{"customer_token":"c_1","order_number":1}'"#)
                #expect(try await sameArguments(other) == [false])
            }
            let shown = try await cli.run(["attempts", "show", "\(id)", "--json"], environment: env)
            let object = try json(shown.stdout)
            for key in ["created_at", "updated_at", "available_at"] {
                let stamp = try #require(object[key] as? String, "\(key) in \(shown.stdout)")
                #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(key): \(stamp)")
            }
        }
    }
}
