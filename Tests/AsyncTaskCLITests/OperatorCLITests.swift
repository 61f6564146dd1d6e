import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// `attempts list|retry|expire|fail|purge`, `nodes`, `stats`, `doctor` against a real database: tables against
/// golden files, `--json` parsed.
@Suite("operator CLI against a real database")
struct OperatorCLITests {
    let cli = CommandRunner()

    /// A migrated database with its URL in the environment the CLI sees.
    func withDatabase(_ body: (TestDatabase, [String: String]) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            try await body(database, ["ASYNCTASK_DATABASE_URL": database.url])
        }
    }

    func exec(_ database: TestDatabase, _ sql: String, _ binds: [any PostgresEncodable] = []) async throws {
        try await database.withConnection { _ = try await $0.query(PostgresStatement(name: "exec", sql: sql, isPrepared: false), binds) }
    }

    func count(_ database: TestDatabase, _ sql: String) async throws -> Int {
        try await database.withConnection {
            try await $0.query(PostgresStatement(name: "count", sql: sql, isPrepared: false)).single().decode(Int.self, at: 0)
        }
    }

    func enqueue(_ database: TestDatabase, _ count: Int, target: String, method: String = "fulfill") async throws -> [Int64] {
        let attempts = try (0..<count).map { n in
            try Attempt(target: target, method: method, argumentsJSON: Data(#"{"n":\#(n),"secret":"pii-value"}"#.utf8))
        }
        return try await database.withConnection { try await AttemptQueue().enqueue(attempts, on: $0) }
    }

    @Test("attempts list: table (golden), filters, --json without arguments, bad filters exit 2")
    func list() async throws {
        try await withDatabase { database, env in
            let orders = try await enqueue(database, 3, target: "OrderClient")
            _ = try await enqueue(database, 2, target: "Mailer", method: "send")
            try await database.withConnection { connection in
                try await AttemptActions().fail(
                    orders[0], reason: "HTTP 500 Internal Server Error: {\"error\":\"database is down\"}\nsecond line", on: connection)
                try await AttemptActions().expire(orders[1], on: connection)
            }
            let table = try await cli.run(["attempts", "list"], environment: env)
            #expect(table.exitCode == 0, "\(table.stderr)")
            try Golden.check(table.stdout, "attempts-list.txt")

            let failed = try await cli.run(
                ["attempts", "list", "--status", "failed,expired", "--target", "OrderClient", "--since", "1h", "--json"], environment: env)
            #expect(failed.exitCode == 0, "\(failed.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [[String: Any]])
            #expect(rows.compactMap { ($0["id"] as? NSNumber)?.int64Value } == [orders[1], orders[0]])
            #expect(
                rows.first { $0["status"] as? String == "failed" }?["last_error"] as? String
                    == "HTTP 500 Internal Server Error: {\"error\":\"database is down\"}\nsecond line")
            #expect(!failed.stdout.contains("pii-value"))

            let mailer = try await cli.run(["attempts", "list", "--method", "send", "--limit", "1", "--json"], environment: env)
            #expect((try JSONSerialization.jsonObject(with: Data(mailer.stdout.utf8)) as? [Any])?.count == 1)
            #expect(mailer.stderr.contains("--before"), "a full page hints at the next one")
            let future = try await cli.run(["attempts", "list", "--since", "2999-01-01T00:00:00Z", "--json"], environment: env)
            #expect(future.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || future.stdout.contains("[]"))

            for (arguments, mention) in [(["--status", "done"], "--status"), (["--since", "yesterday"], "--since"), (["--limit", "0"], "--limit")] {
                let bad = try await cli.run(["attempts", "list"] + arguments, environment: env)
                #expect(bad.exitCode == 2, "\(arguments): \(bad.stderr)")
                #expect(bad.stderr.contains(mention), "\(bad.stderr)")
            }
        }
    }

    @Test(
        "attempts list and show: a succeeded attempt's old error reads as an earlier try's; TRIES is the limit in force (own, last try's, live nodes' default)"
    )
    func listLimitAndEarlierError() async throws {
        try await withDatabase { database, env in
            let ids = try await enqueue(database, 3, target: "OrderClient")
            // ids[0] succeeded on its second try, the first having answered 503; both ran under the default of 12.
            try await exec(
                database,
                """
                UPDATE async_task_attempts SET status = 'succeeded', completed_at = now(), num_attempts = 2,
                    last_error = 'http_status: HTTP status 503', last_error_kind = 'http_status', last_error_at = now(),
                    tries = '[{"try": 1, "outcome": "retry", "max_attempts": 12, "error_kind": "http_status", "http_status": 503},
                              {"try": 2, "outcome": "succeeded", "max_attempts": 12}]'
                WHERE id = $1
                """, [ids[0]])
            try await exec(database, "UPDATE async_task_attempts SET max_attempts = 3 WHERE id = $1", [ids[1]])
            func rows() async throws -> [Int64: String] {
                let table = try await cli.run(["attempts", "list"], environment: env)
                #expect(table.exitCode == 0, "\(table.stderr)")
                var rows: [Int64: String] = [:]
                for line in table.stdout.split(separator: "\n") {
                    if let id = line.split(separator: " ").first.flatMap({ Int64($0) }) { rows[id] = String(line) }
                }
                return rows
            }
            var listed = try await rows()
            #expect(listed[ids[0]]?.contains(" 2/12 ") == true, "\(listed[ids[0]] ?? "")")
            #expect(listed[ids[0]]?.hasSuffix("(earlier try) http_status: HTTP status 503") == true, "\(listed[ids[0]] ?? "")")
            #expect(listed[ids[1]]?.contains(" 0/3 ") == true, "\(listed[ids[1]] ?? "")")
            #expect(listed[ids[2]]?.contains(" 0/- ") == true, "no live node: the limit is not known \(listed[ids[2]] ?? "")")
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(try await cli.run(["attempts", "list", "--json"], environment: env).stdout.utf8))
                    as? [[String: Any]])
            let succeeded = try #require(json.first { ($0["id"] as? NSNumber)?.int64Value == ids[0] })
            #expect((succeeded["effective_max_attempts"] as? NSNumber)?.intValue == 12 && succeeded["last_error_current"] as? Bool == false)

            // Two live nodes serving OrderClient published different defaults (a rolling change): both show until
            // one is gone; a node that is not live has no say.
            let (a, b, gone) = (UUID(), UUID(), UUID())
            try await exec(
                database,
                """
                INSERT INTO async_task_nodes (id, hostname, pid, version, concurrency, targets, status, heartbeat_at) VALUES
                    ($1, 'a', 1, 'x', 8, '{OrderClient}', 'active', now()), ($2, 'b', 2, 'x', 8, '{OrderClient}', 'draining', now()),
                    ($3, 'c', 3, 'x', 8, '{OrderClient}', 'stopped', now())
                """, [a, b, gone])
            try await exec(
                database,
                """
                INSERT INTO async_task_settings (key, value) VALUES ('node_targets', jsonb_build_object(
                    $1::text, '{"OrderClient": {"max_attempts": 12}}'::jsonb, $2::text, '{"OrderClient": {"max_attempts": 5}}'::jsonb,
                    $3::text, '{"OrderClient": {"max_attempts": 99}}'::jsonb))
                """, [a.uuidString.lowercased(), b.uuidString.lowercased(), gone.uuidString.lowercased()])
            listed = try await rows()
            #expect(listed[ids[2]]?.contains(" 0/5|12 ") == true, "\(listed[ids[2]] ?? "")")
            let differ = try await cli.run(["attempts", "show", String(ids[2])], environment: env)
            #expect(
                differ.stdout.contains("5 or 12 (target default: the live nodes serving OrderClient differ; no try recorded yet)"), "\(differ.stdout)"
            )
            try await exec(database, "UPDATE async_task_nodes SET status = 'stopped' WHERE id = $1", [b])
            listed = try await rows()
            #expect(listed[ids[2]]?.contains(" 0/12 ") == true, "\(listed[ids[2]] ?? "")")
            #expect(listed[ids[0]]?.contains(" 2/12 ") == true && listed[ids[1]]?.contains(" 0/3 ") == true)
            let shown = try await cli.run(["attempts", "show", String(ids[2]), "--json"], environment: env)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown.stdout)")
            #expect((object["effective_max_attempts"] as? NSNumber)?.intValue == 12, "\(shown.stdout)")
            #expect(object["effective_max_attempts_source"] as? String == "live_nodes", "\(shown.stdout)")
            // A heartbeat older than --dead-after: not live, no say (the same rule as `nodes`).
            try await exec(database, "UPDATE async_task_nodes SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", [a])
            let stale = try await cli.run(["attempts", "show", String(ids[2])], environment: env)
            #expect(stale.stdout.contains("no live node serves OrderClient"), "\(stale.stdout)")
            let lenient = try await cli.run(["attempts", "show", String(ids[2]), "--dead-after", "2m"], environment: env)
            #expect(lenient.stdout.contains("12 (target default of the live nodes serving OrderClient; no try recorded yet)"), "\(lenient.stdout)")
        }
    }

    @Test("nodes and stats: tables (golden) and --json match the rows")
    func nodesAndStats() async throws {
        try await withDatabase { database, env in
            let live = UUID(uuidString: "11111111-2222-3333-4444-555555555555")!
            let dead = UUID(uuidString: "99999999-8888-7777-6666-555555555555")!
            try await exec(
                database,
                """
                INSERT INTO async_task_nodes (id, hostname, pid, version, concurrency, in_flight, targets, status, heartbeat_at, started_at) VALUES
                    ($1, 'worker-a', 101, '0.1.0', 64, 2, '{OrderClient,Mailer}', 'active', now() - interval '2 hours', now() - interval '5 hours'),
                    ($2, 'worker-b', 202, '0.1.0', 32, 1, '{OrderClient}', 'dead', now() - interval '3 hours', now() - interval '6 hours')
                """, [live, dead])
            let ids = try await enqueue(database, 6, target: "OrderClient")
            _ = try await enqueue(database, 1, target: "Mailer", method: "send")
            // Ages and lags in hours, so the tables' text does not change while the test runs.
            try await exec(database, "UPDATE async_task_attempts SET available_at = now() - interval '2 hours'")
            // Two running under the live node's lease, one still leased by the dead node (its lease ran out).
            try await exec(
                database, "UPDATE async_task_attempts SET locked_by = $1, available_at = now() + interval '30 seconds' WHERE id = ANY($2)",
                [live, Array(ids[0..<2])])
            try await exec(database, "UPDATE async_task_attempts SET locked_by = $1 WHERE id = $2", [dead, ids[2]])
            try await database.withConnection { connection in
                try await AttemptActions().fail(ids[5], reason: "boom", on: connection)
                try await exec(
                    database, "UPDATE async_task_attempts SET status = 'succeeded', completed_at = now(), num_attempts = 1 WHERE id = $1", [ids[4]])
            }

            // --all lists nodes not seen for over an hour; --dead-after 3h keeps worker-a live.
            let nodes = try await cli.run(["nodes", "--all", "--dead-after", "150m"], environment: env)
            #expect(nodes.exitCode == 0, "\(nodes.stderr)")
            try Golden.check(nodes.stdout, "nodes.txt")
            let nodesJSON = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(try await cli.run(["nodes", "--json", "--all", "--dead-after", "150m"], environment: env).stdout.utf8))
                    as? [[String: Any]])
            #expect(nodesJSON.map { $0["live"] as? Bool } == [true, false])
            #expect(nodesJSON.map { ($0["leases"] as? NSNumber)?.intValue } == [2, 1])
            #expect(nodesJSON.first?["targets"] as? [String] == ["OrderClient", "Mailer"])

            let stats = try await cli.run(["stats"], environment: env)
            #expect(stats.exitCode == 0, "\(stats.stderr)")
            try Golden.check(stats.stdout, "stats.txt")
            let statsJSON = try #require(
                try JSONSerialization.jsonObject(with: Data(try await cli.run(["stats", "--json"], environment: env).stdout.utf8)) as? [[String: Any]]
            )
            let order = try #require(statsJSON.first { $0["target"] as? String == "OrderClient" })
            #expect((order["pending"] as? NSNumber)?.intValue == 4)
            #expect((order["running"] as? NSNumber)?.intValue == 2)
            #expect((order["due"] as? NSNumber)?.intValue == 2)
            #expect((order["succeeded_last_hour"] as? NSNumber)?.intValue == 1)
            #expect((order["failed_last_hour"] as? NSNumber)?.intValue == 1)
            #expect(((order["lag_seconds"] as? NSNumber)?.doubleValue ?? 0) >= 7199)
        }
    }

    @Test("doctor: exit 0 on a healthy cluster; exit 1 naming unserved targets, dead nodes' leases, stuck leases, missing migrations")
    func doctor() async throws {
        try await withDatabase { database, env in
            let healthy = try await cli.run(["doctor"], environment: env)
            #expect(healthy.exitCode == 0, "\(healthy.stdout)\(healthy.stderr)")
            #expect(healthy.stdout.contains("schema is current"))

            let dead = UUID()
            try await exec(
                database,
                """
                INSERT INTO async_task_nodes (id, hostname, pid, version, concurrency, targets, status, heartbeat_at)
                VALUES ($1, 'gone-host', 7, '0.1.0', 8, '{OrderClient}', 'dead', now() - interval '10 minutes')
                """, [dead])
            let ids = try await enqueue(database, 3, target: "OrderClient")
            try await exec(
                database, "UPDATE async_task_attempts SET locked_by = $1, available_at = now() - interval '5 minutes' WHERE id = $2", [dead, ids[0]])
            let sick = try await cli.run(["doctor", "--json"], environment: env)
            #expect(sick.exitCode == 1)
            #expect(sick.stderr.contains("need attention"))
            let findings = try #require(
                (try JSONSerialization.jsonObject(with: Data(sick.stdout.utf8)) as? [String: Any])?["findings"] as? [[String: Any]])
            let problems = findings.filter { $0["severity"] as? String == "problem" }
            #expect(Set(problems.compactMap { $0["check"] as? String }) == ["unserved_targets", "dead_node_leases", "stuck_leases"])
            #expect(problems.contains { ($0["message"] as? String)?.contains("3 due attempt(s) for target OrderClient") == true })
            #expect(problems.contains { ($0["message"] as? String)?.contains("gone-host") == true })
        }
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator(migrations: [Schema.migrations[0]]).migrate(on: $0) }
            let old = try await cli.run(["doctor"], environment: ["ASYNCTASK_DATABASE_URL": database.url])
            #expect(old.exitCode == 1)
            #expect(old.stdout.contains("missing migrations") && old.stdout.contains("retention_autovacuum"), "\(old.stdout)")
        }
    }

    @Test("bulk expire/retry/fail by filter: --dry-run counts, no prompt without a terminal unless --yes, batches apply all")
    func bulkActions() async throws {
        try await withDatabase { database, env in
            _ = try await enqueue(database, 1200, target: "OrderClient")
            _ = try await enqueue(database, 5, target: "Mailer", method: "send")

            let dry = try await cli.run(["attempts", "expire", "--target", "OrderClient", "--dry-run"], environment: env)
            #expect(dry.exitCode == 0 && dry.stdout.contains("1200 pending attempt(s) match: dry run"), "\(dry.stdout)\(dry.stderr)")
            let dryJSON = try await cli.run(["attempts", "expire", "--target", "OrderClient", "--dry-run", "--json"], environment: env)
            #expect((try JSONSerialization.jsonObject(with: Data(dryJSON.stdout.utf8)) as? [String: Any])?["matching"] as? Int == 1200)

            let unconfirmed = try await cli.run(["attempts", "expire", "--target", "OrderClient"], environment: env)
            #expect(unconfirmed.exitCode == 2 && unconfirmed.stderr.contains("--yes"), "\(unconfirmed.stderr)")
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts WHERE status = 'expired'") == 0)

            let expired = try await cli.run(["attempts", "expire", "--target", "OrderClient", "--yes"], environment: env)
            #expect(expired.exitCode == 0 && expired.stdout.contains("1200 attempt(s) expired"), "\(expired.stdout)\(expired.stderr)")
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts WHERE status = 'expired' AND target = 'OrderClient'") == 1200)
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts WHERE status = 'pending' AND target = 'Mailer'") == 5)

            let retried = try await cli.run(["attempts", "retry", "--status", "expired", "--since", "1h", "--yes", "--json"], environment: env)
            #expect(
                (try JSONSerialization.jsonObject(with: Data(retried.stdout.utf8)) as? [String: Any])?["changed"] as? Int == 1200, "\(retried.stderr)"
            )
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts WHERE status = 'pending'") == 1205)

            let failed = try await cli.run(["attempts", "fail", "--method", "send", "--reason", "operator: mailer retired", "-y"], environment: env)
            #expect(failed.exitCode == 0 && failed.stdout.contains("5 attempt(s) failed"))
            #expect(
                try await count(
                    database, "SELECT count(*) FROM async_task_attempts WHERE status = 'failed' AND last_error = 'operator: mailer retired'") == 5)

            let nothing = try await cli.run(["attempts", "retry", "--target", "Nobody", "--yes"], environment: env)
            #expect(nothing.exitCode == 0 && nothing.stdout.contains("0 failed or expired attempt(s) match"))
            for arguments in [["attempts", "retry"], ["attempts", "retry", "5", "--target", "OrderClient"]] {
                let bad = try await cli.run(arguments, environment: env)
                #expect(bad.exitCode == 2, "\(arguments): \(bad.stderr)")
            }
        }
    }

    @Test("attempts purge --older-than: dry run, confirmation, deletes only old finished attempts")
    func purge() async throws {
        try await withDatabase { database, env in
            let ids = try await enqueue(database, 30, target: "OrderClient")
            try await exec(
                database,
                """
                UPDATE async_task_attempts SET status = CASE WHEN id % 3 = 0 THEN 'failed' ELSE 'succeeded' END,
                       completed_at = now() - interval '10 days'
                WHERE id <= $1
                """, [ids[19]])
            try await exec(
                database, "UPDATE async_task_attempts SET status = 'succeeded', completed_at = now() - interval '1 day' WHERE id = $1", [ids[20]])

            let dry = try await cli.run(["attempts", "purge", "--older-than", "7d", "--dry-run", "--json"], environment: env)
            let matching = (try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])?["matching"] as? [String: Int]
            #expect(matching == ["succeeded": 14, "failed": 6, "expired": 0], "\(dry.stdout)\(dry.stderr)")
            #expect(try await cli.run(["attempts", "purge", "--older-than", "7d"], environment: env).exitCode == 2)
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts") == 30)

            let succeededOnly = try await cli.run(
                ["attempts", "purge", "--older-than", "7d", "--status", "succeeded", "--batch-size", "4", "--yes"], environment: env)
            #expect(succeededOnly.stdout.contains("deleted 14 attempt(s)"), "\(succeededOnly.stdout)\(succeededOnly.stderr)")
            let rest = try await cli.run(["attempts", "purge", "--older-than", "7d", "--yes"], environment: env)
            #expect(rest.stdout.contains("deleted 6 attempt(s)"))
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts") == 10)
            #expect(try await count(database, "SELECT count(*) FROM async_task_attempts WHERE status = 'pending'") == 9)

            for (arguments, mention) in [(["--older-than", "soon"], "--older-than"), (["--older-than", "1d", "--status", "pending"], "pending")] {
                let bad = try await cli.run(["attempts", "purge"] + arguments, environment: env)
                #expect(bad.exitCode == 2 && bad.stderr.contains(mention), "\(bad.stderr)")
            }
        }
    }
}
