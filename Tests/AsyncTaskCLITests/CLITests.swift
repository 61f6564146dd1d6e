import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("asynctask CLI against a real database")
struct CLITests {
    let cli = CommandRunner()

    @Test("four concurrent `asynctask migrate` processes apply each migration exactly once")
    func concurrentMigrate() async throws {
        try await TestDatabase.with { database throws in
            let outputs = try await withThrowingTaskGroup(of: CommandRunner.Output.self) { group in
                for _ in 0..<4 { group.addTask { try await cli.run(["migrate", "--database-url", database.url]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outputs.allSatisfy { $0.exitCode == 0 }, "\(outputs.map(\.stderr))")
            let all = Schema.migrations.map(\.version)
            #expect(outputs.filter { $0.stdout.contains("applied migrations \(all.map(String.init).joined(separator: ", "))") }.count == 1)
            #expect(outputs.filter { $0.stdout.contains("schema is current") }.count == 3)
            try await database.withConnection { connection throws in
                let versions = try await connection.query(
                    PostgresStatement(name: "versions", sql: "SELECT array_agg(version ORDER BY version) AS v FROM async_task_schema_migrations")
                ).single().decode([Int64].self, "v")
                #expect(versions == Schema.migrations.map { Int64($0.version) })
            }
            let status = try await cli.run(["migrate", "--status", "--json"], environment: ["ASYNCTASK_DATABASE_URL": database.url])
            #expect(status.exitCode == 0)
            let rows = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]]
            #expect(rows?.count == Schema.migrations.count)
            #expect(rows?.first?["version"] as? Int == 1)
            #expect(rows?.first?["applied_at"] is String)
            let table = try await cli.run(["migrate", "--status"], environment: ["DATABASE_URL": database.url])
            #expect(table.stdout.split(separator: "\n").first?.hasPrefix("VERSION  NAME") == true)
            #expect(table.stdout.contains(/attempts_and_nodes +applied/))
        }
    }

    @Test("enqueue prints the id; a repeated token returns the same id; --at schedules")
    func enqueue() async throws {
        try await TestDatabase.with { database throws in
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            #expect(try await cli.run(["migrate"], environment: env).exitCode == 0)
            let first = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", #"{"order_number":7}"#, "--token", "order-7"],
                environment: env)
            #expect(first.exitCode == 0, "\(first.stderr)")
            let second = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", #"{"order_number":8}"#, "--token", "order-7"],
                environment: env)
            #expect(first.stdout == second.stdout)
            let id = try #require(Int64(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let later = try await cli.run(
                ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--at", "+1h", "--priority=-5", "--json"], environment: env)
            let laterID = try #require((try JSONSerialization.jsonObject(with: Data(later.stdout.utf8)) as? [String: Any])?["id"] as? Int)
            try await database.withConnection { connection throws in
                let row = try await connection.query(
                    PostgresStatement(
                        name: "scheduled",
                        sql: """
                            SELECT available_at > now() + interval '59 minutes' AS later, priority, method_args::text AS args FROM async_task_attempts WHERE id = $1
                            """), [laterID]
                ).single()
                #expect(try row.decode(Bool.self, "later"))
                #expect(try row.decode(Int.self, "priority") == -5)
                let kept = try await connection.query(
                    PostgresStatement(name: "args", sql: "SELECT method_args::text AS args FROM async_task_attempts WHERE id = $1"), [id]
                ).single()
                #expect(try kept.decode(String.self, "args") == #"{"order_number": 7}"#)
            }
        }
    }

    @Test(
        "bad input exits 2 with one line naming the problem",
        arguments: [
            (["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", "[1]"], "method_args"),
            (["enqueue", "--target", "", "--method", "fulfill"], "target"),
            (["enqueue", "--target", "OrderClient", "--method", "../admin", "--args", "{}"], "method_name"),
            (["enqueue", "--target", "T", "--method", "m", "--at", "tomorrow-ish"], "--at"),
            (["enqueue", "--target", "T", "--method", "m", "--priority", "99999"], "priority"),
            (["attempts", "expire", "12; DROP TABLE x"], "not an attempt id"),
            (["attempts", "retry", "0"], "attempt id"),
            (["migrate", "--database-url", "postgresql://u:pw@host:notaport/db"], "invalid database URL"),
        ])
    func badInput(arguments: [String], mentions: String) async throws {
        let output = try await cli.run(arguments, environment: ["ASYNCTASK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"])
        #expect(output.exitCode == 2, "\(arguments): \(output.stderr)")
        #expect(output.stderr.contains(mentions), "\(output.stderr)")
        #expect(!output.stderr.contains("pw@"))
    }

    @Test("an unreachable database is one line with the password masked, exit 1; no database given, exit 2")
    func unreachableDatabase() async throws {
        let output = try await cli.run(["migrate", "--database-url", "postgresql://alice:hunter2@127.0.0.1:1/app"])
        #expect(output.exitCode == 1)
        #expect(output.stderr.hasPrefix("error: database unreachable"))
        #expect(output.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1)
        #expect(!output.stderr.contains("hunter2"))
        // No database given at all is bad usage (exit 2), not a runtime failure.
        let none = try await cli.run(["migrate"])
        #expect(none.exitCode == 2)
        #expect(none.stderr.contains("no database given"))
    }

    @Test("the database URL comes from --database-url, then ASYNCTASK_DATABASE_URL, then DATABASE_URL, then --config")
    func databaseURLPrecedence() async throws {
        try await TestDatabase.with { database throws in
            let bad = "postgresql://nobody@127.0.0.1:1/none"
            #expect(try await cli.run(["migrate", "--database-url", database.url], environment: ["ASYNCTASK_DATABASE_URL": bad]).exitCode == 0)
            #expect(try await cli.run(["migrate"], environment: ["ASYNCTASK_DATABASE_URL": database.url, "DATABASE_URL": bad]).exitCode == 0)
            #expect(try await cli.run(["migrate"], environment: ["ASYNCTASK_DATABASE_URL": bad, "DATABASE_URL": database.url]).exitCode == 1)
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-\(UUID()).yaml")
            try "database_url: \(database.url)\nnode: { concurrency: 8 }\n".write(to: config, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: config) }
            #expect(try await cli.run(["migrate", "--status", "--config", config.path]).exitCode == 0)
            let missing = try await cli.run(["migrate", "--config", "/nonexistent/asynctask.yaml"])
            #expect(missing.exitCode == 2)
            #expect(missing.stderr.contains("/nonexistent/asynctask.yaml"))
        }
    }

    @Test("attempts expire|fail|retry by id, refusing invalid transitions with exit 1")
    func attemptActions() async throws {
        try await TestDatabase.with { database throws in
            let env = ["ASYNCTASK_DATABASE_URL": database.url]
            #expect(try await cli.run(["migrate"], environment: env).exitCode == 0)
            var ids: [String] = []
            for n in 0..<3 {
                let out = try await cli.run(
                    ["enqueue", "--target", "OrderClient", "--method", "fulfill", "--args", #"{"n":\#(n)}"#], environment: env)
                ids.append(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let expire = try await cli.run(["attempts", "expire", ids[0], ids[1]], environment: env)
            #expect(expire.exitCode == 0)
            #expect(expire.stdout == "attempt \(ids[0]): expired\nattempt \(ids[1]): expired\n")
            let fail = try await cli.run(["attempts", "fail", ids[2], "--reason", "order cancelled"], environment: env)
            #expect(fail.exitCode == 0)
            let refused = try await cli.run(["attempts", "expire", ids[2]], environment: env)
            #expect(refused.exitCode == 1)
            #expect(refused.stderr.contains("it is failed"))
            let retry = try await cli.run(["attempts", "retry", ids[0], ids[2], "--json"], environment: env)
            #expect(retry.exitCode == 0)
            let show = try await cli.run(["attempts", "show", ids[2], "--json"], environment: env)
            // One id: one object (several ids: an array).
            let shown = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            #expect(shown["status"] as? String == "pending")
            #expect(shown["last_error"] as? String == "order cancelled")
            #expect(shown["method_args"] == nil)
            let unknown = try await cli.run(["attempts", "show", "424242"], environment: env)
            #expect(unknown.exitCode == 1)
            #expect(unknown.stderr.contains("attempt 424242 not found"))
        }
    }

    @Test("--version prints the version")
    func version() async throws {
        let output = try await cli.run(["--version"])
        #expect(output.exitCode == 0)
        #expect(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }
}
