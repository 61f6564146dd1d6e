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
            "  admin: listen 127.0.0.1:9191, token set", "  encryption: none", "  retention: succeeded 86400.0 seconds", "  log: level info",
        ] {
            #expect(check.stdout.contains(section), "missing \(section) in:\n\(check.stdout)")
        }
        #expect(!check.stdout.contains("0123456789abcdef"), "a secret in the summary")
    }
}
