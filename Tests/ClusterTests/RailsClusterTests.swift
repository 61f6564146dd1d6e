import AsyncTask
import AsyncTaskCore
import AsyncTaskWorker
import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Rails applications with real Ruby (Debian's ruby, ruby-activerecord, ruby-pg, ruby-enumerize, ruby-actionpack,
/// ruby-webrick, bundler) against the test PostgreSQL and real worker processes: the unchanged async_task gem's
/// writes across an adoption (clients/ruby/test/gem_app.rb), this repository's producer library on a fresh and
/// an adopted table (clients/ruby/test/library_app.rb), and its webhook concern in a Rails endpoint
/// (clients/ruby/test/webhook_app.rb).
@Suite("Rails applications: the async_task gem and the Ruby library", .serialized)
struct RailsClusterTests {
    static let rubyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("clients/ruby/test")
    static let ruby = "/usr/bin/ruby"

    static let attempt = PostgresStatement(
        name: "rails_attempt",
        sql: """
            SELECT status, num_attempts, method_args::text AS method_args, coalesce(last_error_kind, '') AS kind,
                   coalesce(last_error, '') AS error, priority, coalesce(max_attempts, 0) AS max_attempts
            FROM async_task_attempts WHERE id = $1
            """, isPrepared: false)
    static let statuses = PostgresStatement(
        name: "rails_statuses",
        sql: """
            SELECT id, status FROM async_task_attempts WHERE target = 'OrderClient' ORDER BY id
            """, isPrepared: false)

    /// Runs a Ruby script of clients/ruby/test to completion; its last stdout line parsed as JSON.
    static func runRuby(_ arguments: [String], environment: [String: String]) async throws -> (
        exitCode: Int32, json: [String: Any], output: ChildProcess.Output
    ) {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let output = try await ChildProcess.run([ruby] + arguments, environment: env, directory: rubyDirectory, timeout: .seconds(60))
        let last = output.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]) ?? [:]
        return (output.exitCode, json, output)
    }

    /// Calls the example target recorded, by attempt id: the `order_number` each call carried.
    static func calls(_ cluster: Cluster) -> [Int64: [Int]] {
        let text = (try? String(contentsOf: cluster.recordFile, encoding: .utf8)) ?? ""
        var calls: [Int64: [Int]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value
            else { continue }
            calls[id, default: []].append((object["order_number"] as? NSNumber)?.intValue ?? -1)
        }
        return calls
    }

    /// The arguments each call carried, by attempt id (the target runs with `--record-arguments`).
    static func arguments(_ cluster: Cluster) -> [Int64: [String: Any]] {
        let text = (try? String(contentsOf: cluster.recordFile, encoding: .utf8)) ?? ""
        var arguments: [Int64: [String: Any]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value, let args = object["args"] as? [String: Any]
            else { continue }
            arguments[id] = args
        }
        return arguments
    }

    /// A JSON array's elements as text (`true` → `1`, `null` → `nil`), to compare a script's read-backs.
    static func texts(_ value: Any?) -> [String] { (value as? [Any])?.map { $0 is NSNull ? "nil" : "\($0)" } ?? [] }

    static func ids(_ value: Any?) -> [Int64] { (value as? [NSNumber])?.map(\.int64Value) ?? [] }
    static func id(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? -1 }

    @Test(
        "a gem table filled the gem's way is adopted while the unchanged gem keeps inserting; workers drain it with the arguments as JSON; the gem's fail! and stale saves cannot break the fence"
    )
    func adoptionDuringInserts() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "1500", "--record-arguments"], migrate: false) { cluster in
            let env = ["DATABASE_URL": cluster.database.url]
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            let created = try await Self.runRuby(["gem_app.rb", "create-table"], environment: env)
            try #require(created.exitCode == 0, "\(created.output.stderr)")
            let seeded = try await Self.runRuby(["gem_app.rb", "seed"], environment: env)
            try #require(seeded.exitCode == 0, "\(seeded.output.stderr)")
            let seed = seeded.json

            // An application server booted before the adoption, inserting the gem's way all along.
            let stopFile = cluster.directory.appendingPathComponent("stop-loop")
            let loopOut = cluster.directory.appendingPathComponent("loop.out")
            _ = FileManager.default.createFile(atPath: loopOut.path, contents: nil)
            let loop = Process()
            loop.executableURL = URL(fileURLWithPath: Self.ruby)
            loop.arguments = ["gem_app.rb", "loop", stopFile.path]
            loop.currentDirectoryURL = Self.rubyDirectory
            var loopEnvironment = ProcessInfo.processInfo.environment
            loopEnvironment["DATABASE_URL"] = cluster.database.url
            loop.environment = loopEnvironment
            loop.standardOutput = try FileHandle(forWritingTo: loopOut)
            loop.standardError = try FileHandle(forWritingTo: loopOut)
            try loop.run()
            defer { if loop.isRunning { loop.terminate() } }
            func loopLines() -> [Substring] { ((try? String(contentsOf: loopOut, encoding: .utf8)) ?? "").split(separator: "\n") }
            func committed() -> Int { loopLines().filter { $0.hasPrefix("ok ") }.count }
            try await eventually("the gem app to commit inserts", timeout: .seconds(30), every: .milliseconds(50)) { committed() >= 10 }
            #expect(loopLines().first == "booted text")

            let cli = CommandRunner()
            // Plain migrate stops on the gem's table, naming it and --adopt, and changes nothing.
            let refused = try await cli.run(["migrate", "--database-url", cluster.database.url])
            #expect(refused.exitCode == 2, "\(refused.stdout) \(refused.stderr)")
            #expect(
                refused.stderr.contains("async_task_attempts was created by the async_task gem")
                    && refused.stderr.contains("`asynctask migrate --adopt --dry-run`") && refused.stderr.contains("nothing was changed"),
                "\(refused.stderr)")
            #expect(try await cluster.scalar("SELECT count(*)::int FROM pg_tables WHERE tablename = 'async_task_schema_migrations'") == 0)
            let dryRun = try await cli.run(["migrate", "--adopt", "--dry-run", "--database-url", cluster.database.url])
            #expect(dryRun.exitCode == 0, "\(dryRun.stderr)")
            // The rows the gem already tried (3 and 12 times) get a fresh budget, and the dry run counts them.
            #expect(
                dryRun.stdout.contains(
                    "pending rows the gem already tried get max_attempts = num_attempts + 12 (the gem's tries do not count against the cluster's; the target's max_attempts does not apply to them): 2 row(s)"
                ), "\(dryRun.stdout)")
            #expect(dryRun.stdout.contains("would adopt async_task_attempts") && dryRun.stdout.contains("dry run: nothing was changed"))
            #expect(dryRun.stdout.contains("attempt \(Self.id(seed["bigdecimal"])) (pending): the gem's YAML arguments at amount"))
            #expect(dryRun.stdout.contains("use encryptor AppVault"))
            let adopted = try await cli.run(["migrate", "--adopt", "--database-url", cluster.database.url])
            #expect(adopted.exitCode == 0, "\(adopted.stderr)")
            #expect(adopted.stdout.contains("adopted async_task_attempts") && adopted.stdout.contains("schema version \(Schema.latestVersion)"))
            let atAdoption = committed()
            try await eventually("the gem app to go on inserting after the adoption", timeout: .seconds(30), every: .milliseconds(50)) {
                committed() >= atAdoption + 10
            }

            // A server booted after the adoption, still on the unchanged gem.
            let fresh = try await Self.runRuby(["gem_app.rb", "insert", "3"], environment: env)
            #expect(fresh.exitCode == 0, "\(fresh.output.stderr)")
            #expect(fresh.output.stdout.hasPrefix("booted text"))

            // A row the unchanged gem writes after the adoption, not due for a day: the library expires it below.
            let later = try await Self.runRuby(["gem_app.rb", "insert-later"], environment: env)
            try #require(later.exitCode == 0, "\(later.output.stderr)")
            let laterID = Self.id(later.json["id"])

            try cluster.startWorker(node: ["concurrency: 400"], extra: ["encryption: { primary: k1, keys: { k1: \"\(key)\" } }"])
            // The Ruby library on the adopted table, among the unchanged gem's rows.
            let library = try await Self.runRuby(
                ["library_app.rb", "adopted", String(laterID)], environment: ["DATABASE_URL": cluster.database.url, "ASYNCTASK_KEY_K1": key])
            try #require(library.exitCode == 0, "\(library.output.stderr)")
            let lib = library.json
            #expect(lib["column_type"] as? String == "text")
            #expect(
                lib["created_stored"] as? String == #"{"customer_token":"c_400001","order_number":400001,"tags":["rush","gift"]}"#
                    && lib["created_encryptor"] is NSNull, "\(lib)")
            #expect((lib["created_reads_back"] as? [String: Any])?["tags"] as? [String] == ["rush", "gift"])
            #expect(lib["duplicate_refused"] as? Bool == true)
            #expect(lib["sealed_encryptor"] as? String == "aes-256-gcm:k1")
            let libraryErrors = lib["errors"] as? [String: String] ?? [:]
            #expect(libraryErrors["array_insert"]?.contains("async_task_attempts_method_args_check") == true, "\(libraryErrors)")
            #expect(libraryErrors["fail_expired"]?.contains("cannot fail attempt \(laterID): it is expired") == true, "\(libraryErrors)")
            #expect(lib["later_encryptor"] as? String == GemArgumentsDecoder.nullEncryptor)
            let laterArguments = lib["later_args"] as? [String: Any]
            #expect(laterArguments?["customer_token"] as? String == "c_300003" && laterArguments?["order_number"] as? Int == 300_003)
            // expire! on the gem's YAML row: expired, the predicate and the scope agree, lock_version moved on.
            #expect(Self.texts(lib["later_expired"]) == ["expired", "1", "1", "1"], "\(lib)")
            #expect(Self.texts(lib["later_retried"]) == ["pending", "1", "0"], "\(lib)")

            let fence = try await Self.runRuby(["gem_app.rb", "fence"], environment: env)
            #expect(fence.exitCode == 0, "\(fence.output.stderr)")
            _ = FileManager.default.createFile(atPath: stopFile.path, contents: nil)
            try await eventually("the gem app to stop", timeout: .seconds(30)) { !loop.isRunning }
            let lines = loopLines()
            #expect(lines.last == "done")
            #expect(!lines.contains { $0.hasPrefix("error") }, "\(lines.filter { $0.hasPrefix("error") }.prefix(3))")

            var expected: [Int64: Int] = [:]  // attempt id → the order_number the target must receive
            for line in lines where line.hasPrefix("ok ") {
                let parts = line.split(separator: " ")
                expected[Int64(parts[1])!] = Int(parts[2])!
            }
            let rolledBack = Set(lines.filter { $0.hasPrefix("rolledback ") }.compactMap { Int($0.split(separator: " ")[1]) })
            for (index, id) in Self.ids(seed["pending"]).enumerated() { expected[id] = index < 20 ? index + 1 : [21, 22, 24][index - 20] }
            for (index, id) in Self.ids(fresh.json["ids"]).enumerated() { expected[id] = 200_001 + index }
            expected[Self.id(fence.json["stale"])] = 300_002
            let exhausted = Self.id(seed["exhausted"])
            expected[exhausted] = 29
            expected[laterID] = 300_003
            expected[Self.id(lib["created"])] = 400_001
            expected[Self.id(lib["sealed"])] = 400_002
            let noArguments = Self.id(seed["no_args"])
            let held = Self.id(fence.json["held"])

            try await eventually("every runnable attempt to finish", timeout: .seconds(60), every: .milliseconds(200)) {
                try await cluster.scalar(
                    "SELECT count(*)::int FROM async_task_attempts WHERE status = 'pending' AND available_at < 'infinity' AND scheduled_at IS DISTINCT FROM '2099-01-01' AND (scheduled_at IS NULL OR scheduled_at < now())"
                ) == 0
            }
            // The later row is retried by the library but keeps its schedule a day ahead, which the wait above skips.
            try await eventually("the library's rows to finish", timeout: .seconds(30), every: .milliseconds(200)) {
                try await cluster.scalar(
                    "SELECT count(*)::int FROM async_task_attempts WHERE id = ANY($1) AND status = 'pending'",
                    [[laterID, Self.id(lib["created"]), Self.id(lib["sealed"])]]) == 0
            }
            let calls = Self.calls(cluster)
            for (id, number) in expected {
                let row = try await cluster.pool.query(Self.attempt, [id]).single()
                let error = try row.decode(String.self, "error")
                #expect(try row.decode(String.self, "status") == "succeeded", "attempt \(id): \(error)")
                #expect(calls[id] == [number], "attempt \(id)")
            }
            #expect(try await cluster.pool.query(Self.attempt, [noArguments]).single().decode(String.self, "status") == "succeeded")
            #expect(try await cluster.pool.query(Self.attempt, [Self.id(seed["retried"])]).single().decode(Int.self, "num_attempts") == 4)
            // The row the gem had tried 12 times was called (before the fix it failed as tries_exhausted uncalled).
            let tried = try await cluster.pool.query(Self.attempt, [exhausted]).single()
            #expect(try tried.decode(Int.self, "num_attempts") == 13 && tried.decode(Int.self, "max_attempts") == 24)
            // The dated row's Date, Time and symbol values arrive as the README documents them.
            let dated = Self.arguments(cluster)[Self.id(seed["dated"])] ?? [:]
            #expect(dated["placed_on"] as? String == "2026-12-02", "\(dated)")
            #expect(dated["at"] as? String == "2026-12-02T01:15:56.500000000Z", "\(dated)")
            #expect(dated["state"] as? String == "new" && dated["_status"] as? Int == 200 && dated["order_number"] as? Int == 24, "\(dated)")
            #expect(Self.arguments(cluster)[Self.id(lib["created"])]?["tags"] as? [String] == ["rush", "gift"])
            #expect(Set(calls.values.flatMap { $0 }).isDisjoint(with: rolledBack))
            #expect(rolledBack.count >= 4)

            // Bad input: arguments YAML cannot give as JSON fail with their kind, untouched and never sent.
            let object = try await cluster.pool.query(Self.attempt, [Self.id(seed["bigdecimal"])]).single()
            #expect(
                try object.decode(String.self, "status") == "failed" && object.decode(String.self, "kind") == GemArgumentsDecoder.errorKind.rawValue)
            #expect(
                try object.decode(String.self, "error").contains("at amount")
                    && object.decode(String.self, "method_args").contains("!ruby/object:BigDecimal"))
            #expect(calls[Self.id(seed["bigdecimal"])] == nil)
            // An encryptor module the cluster cannot run: kept pending, never sent, listed by doctor.
            let vault = Self.id(seed["vault"])
            #expect(try await cluster.pool.query(Self.attempt, [vault]).single().decode(String.self, "status") == "pending" && calls[vault] == nil)
            let doctor = try await cli.run(["doctor", "--database-url", cluster.database.url])
            #expect(doctor.stdout.contains("encrypted by the gem with AppVault (e.g. attempt \(vault))"))
            #expect(doctor.stdout.contains("1 attempt(s) failed because their gem YAML arguments have no JSON form"))

            // The fence: the gem's fail! on a row a node held wins and clears the lease; the node's later success
            // is rejected. A model loaded before the node recorded its outcome cannot overwrite it.
            #expect(fence.json["held_status"] as? String == "failed")
            #expect(fence.json["held_locked_by"] is NSNull)
            #expect(try await cluster.pool.query(Self.attempt, [held]).single().decode(String.self, "status") == "failed")
            #expect(fence.json["stale_update"] as? String == "ActiveRecord::StaleObjectError")
            #expect(fence.json["expire_after"] as? String == "AsyncTask::InvalidStateError")
        }
    }

    @Test(
        "the Ruby library: commit, rollback, nested savepoints, duplicate tokens, schedule, priority, encryption and operator actions; workers run what committed"
    )
    func libraryProducer() async throws {
        try await Cluster.with { cluster in
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            let produced = try await Self.runRuby(
                ["library_app.rb", "produce"], environment: ["DATABASE_URL": cluster.database.url, "ASYNCTASK_KEY_K1": key])
            try #require(produced.exitCode == 0, "\(produced.output.stderr)")
            let out = produced.json
            let committed = (out["committed"] as? [String: NSNumber] ?? [:]).reduce(into: [Int64: Int]()) { $0[Int64($1.key)!] = $1.value.intValue }
            #expect(committed.values.sorted() == [1, 3, 6, 7, 8, 11, 13, 14, 16])
            #expect(out["duplicate_refused"] as? Bool == true)
            #expect((out["sealed_encryptor"] as? String) == "aes-256-gcm:k1" && out["sealed_stored_has_plaintext"] as? Bool == false)
            #expect((out["sealed_reads_back"] as? [String: Any])?["secret"] as? String == "s3cr3t")
            let errors = out["errors"] as? [String: String] ?? [:]
            #expect(errors["fail_expired"]?.contains("cannot fail attempt") == true && errors["fail_expired"]?.contains("it is expired") == true)
            #expect(errors["array_args"]?.contains("must be a Hash") == true)
            #expect(errors["long_key"]?.contains("Ordering key must be 1 to 255 bytes, got 256") == true, "\(errors)")
            #expect(errors["long_concurrency_key"]?.contains("Concurrency key must be 1 to 255 bytes, got 300") == true, "\(errors)")
            let concurrencyKeyed = (out["concurrency_keyed"] as? NSNumber)?.int64Value ?? 0
            #expect(
                try await cluster.scalar(
                    "SELECT count(*)::int FROM async_task_attempts WHERE id = $1 AND concurrency_key = 'tenant-9'", [concurrencyKeyed]) == 1)
            let ordered = (out["ordered"] as? [NSNumber] ?? []).map(\.int64Value)
            #expect(ordered.count == 2)
            #expect(
                try await cluster.scalar("SELECT count(*)::int FROM async_task_attempts WHERE id = ANY($1) AND ordering_key = 'order-77'", [ordered])
                    == 2)
            let expired = Self.id((out["expired"] as? [Any])?.first)
            let failed = Self.id((out["failed"] as? [Any])?.first)
            let retried = Self.id((out["retried"] as? [Any])?.first)
            // What the script read back through the library: statuses, predicates, scopes, arguments.
            #expect(Self.texts(out["expired"]).dropFirst() == ["expired", "1", "1"], "\(out)")
            #expect(Self.texts(out["failed"]).dropFirst() == ["failed", "cancelled by support"], "\(out)")
            // retry! of an expired attempt that never ran: pending, with one try.
            #expect(Self.texts(out["retried"]).dropFirst() == ["pending", "1"], "\(out)")
            #expect(committed[retried] == 11)
            let plain = out["plain_args"] as? [String: Any] ?? [:]
            #expect(plain["customer_token"] as? String == "c_1" && plain["order_number"] as? Int == 1, "\(plain)")
            #expect(plain["placed_at"] as? String == "2026-12-02T00:00:00.000Z", "\(plain)")
            let priorityRow = committed.first { $0.value == 6 }!.key
            let stored = try await cluster.pool.query(Self.attempt, [priorityRow]).single()
            #expect(try stored.decode(Int.self, "priority") == -5 && stored.decode(Int.self, "max_attempts") == 2)

            try cluster.startWorker(extra: ["encryption: { primary: k1, keys: { k1: \"\(key)\" } }"])
            try await eventually("the committed attempts to succeed", timeout: .seconds(45), every: .milliseconds(200)) {
                try await cluster.scalar("SELECT count(*)::int FROM async_task_attempts WHERE status = 'succeeded'") == committed.count
            }
            let calls = Self.calls(cluster)
            for (id, number) in committed { #expect(calls[id] == [number], "attempt \(id)") }
            #expect(calls[expired] == nil && calls[failed] == nil)
            #expect(calls.count == committed.count)
            let scheduled = Self.id(out["scheduled"])
            #expect(
                try await cluster.scalar(
                    "SELECT (extract(epoch FROM updated_at - created_at) >= 1.5)::int FROM async_task_attempts WHERE id = $1", [scheduled]) == 1)

            // The library's expire!/fail! on rows the node holds, calls in flight, against the CLI's on two more.
            let fence = try await Self.runRuby(["library_app.rb", "fence"], environment: ["DATABASE_URL": cluster.database.url])
            try #require(fence.exitCode == 0, "\(fence.output.stderr)")
            let cli = CommandRunner()
            let cliExpired = Self.id(fence.json["cli_expired"])
            let cliFailed = Self.id(fence.json["cli_failed"])
            let expire = try await cli.run(["attempts", "expire", String(cliExpired), "--database-url", cluster.database.url])
            let fail = try await cli.run(
                ["attempts", "fail", String(cliFailed), "--reason", "stopped by support", "--database-url", cluster.database.url])
            #expect(expire.exitCode == 0 && fail.exitCode == 0, "\(expire.stderr) \(fail.stderr)")
            // The lease is cleared at once, while the call is still in flight.
            #expect(Self.texts(fence.json["after_expire"]) == ["expired", "nil", "1", "nil"], "\(fence.json)")
            #expect(Self.texts(fence.json["after_fail"]) == ["failed", "nil", "1", "stopped by support"], "\(fence.json)")
            // Each call ends after its row was finished: all four outcomes are fenced out, none overwrites.
            try await eventually("the node to have its four outcomes fenced out", timeout: .seconds(30), every: .milliseconds(200)) {
                try await cluster.nodeCounters().contains { ($0.counters["fenced_rejects"] ?? 0) == 4 }
            }
            let fenceCalls = Self.calls(cluster)
            let libraryExpired = Self.id(fence.json["library_expired"])
            let libraryFailed = Self.id(fence.json["library_failed"])
            for id in [libraryExpired, libraryFailed, cliExpired, cliFailed] { #expect(fenceCalls[id]?.count == 1, "attempt \(id)") }
            #expect(try await Self.fenceState(cluster, libraryExpired) == Self.fenceState(cluster, cliExpired))
            #expect(try await Self.fenceState(cluster, libraryFailed) == Self.fenceState(cluster, cliFailed))
            #expect(try await Self.fenceState(cluster, libraryExpired) == ["expired", "true", "true", "1", "", "", ""])
            #expect(try await Self.fenceState(cluster, libraryFailed) == ["failed", "true", "true", "1", "stopped by support", "", ""])
        }
    }

    static let fenceRow = PostgresStatement(
        name: "rails_fence_row",
        sql: """
            SELECT status, (locked_by IS NULL)::text AS unlocked, (completed_at IS NOT NULL)::text AS completed, num_attempts::text AS tries,
                   coalesce(last_error, '') AS error, coalesce(last_error_kind, '') AS kind, coalesce(tries::text, '') AS history
            FROM async_task_attempts WHERE id = $1
            """, isPrepared: false)

    /// What an operator action left on a row, to compare the library's with the CLI's.
    static func fenceState(_ cluster: Cluster, _ id: Int64) async throws -> [String] {
        let row = try await cluster.pool.query(fenceRow, [id]).single()
        return try ["status", "unlocked", "completed", "tries", "error", "kind", "history"].map { column throws(PostgresError) in
            try row.decode(String.self, column)
        }
    }

    @Test("the Ruby webhook helper accepts the cluster's signature and refuses a changed body, a wrong secret and an old timestamp")
    func webhookVerification() async throws {
        let body = #"{"event":"attempt.failed","attempt":{"id":42}}"#
        let now = Int64(Date().timeIntervalSince1970)
        let header = WebhookSignature.header(body: Array(body.utf8), timestamp: now, secrets: ["whsec"])
        let good = try await Self.runRuby(["library_app.rb", "verify", body, header, "whsec"], environment: [:])
        #expect(good.exitCode == 0 && good.json["verified"] as? String == "attempt.failed", "\(good.output.stderr)")
        let changed = try await Self.runRuby(
            ["library_app.rb", "verify", body.replacingOccurrences(of: "42", with: "43"), header, "whsec"], environment: [:])
        #expect(changed.exitCode == 3 && (changed.json["refused"] as? String)?.contains("does not match") == true)
        let wrong = try await Self.runRuby(["library_app.rb", "verify", body, header, "other"], environment: [:])
        #expect(wrong.exitCode == 3)
        let old = WebhookSignature.header(body: Array(body.utf8), timestamp: now - 3600, secrets: ["whsec"])
        let stale = try await Self.runRuby(["library_app.rb", "verify", body, old, "whsec"], environment: [:])
        #expect(stale.exitCode == 3 && (stale.json["refused"] as? String)?.contains("tolerance") == true)
    }

    @Test(
        "a real node delivers a signed failure webhook to a Rails endpoint (ActionController::API with WebhookReceiver): verified and handed to handle_perform_error; the same signature on a changed body is refused with 401"
    )
    func webhookToRailsEndpoint() async throws {
        try await Cluster.with { cluster in
            let record = cluster.directory.appendingPathComponent("rails-webhooks.jsonl")
            let secret = "whsec_rails_\(UUID().uuidString.prefix(8))"
            let receiver = try ManagedProcess(
                name: "rails-webhook", command: [Self.ruby, Self.rubyDirectory.appendingPathComponent("webhook_app.rb").path, record.path, secret],
                directory: cluster.directory)
            defer { receiver.send(SIGKILL) }
            let printed = try await receiver.waitForOutput("listening on ")
            let url = try #require(
                printed.split(separator: "\n").first { $0.hasPrefix("listening on ") }?.split(separator: " ").last.map(String.init))

            let failing = try await cluster.enqueue(1, arguments: { _ in #"{"order_number":1,"_status":404}"# })
            try cluster.startWorker(extra: [
                "webhook:", "  url: \(url)", "  secret: \(secret)", "  events: [attempt.failed]", "  backoff: { base: 100ms, max: 500ms }",
            ])
            try await eventually("the Rails endpoint to receive the failure", timeout: .seconds(30), every: .milliseconds(200)) {
                ((try? String(contentsOf: record, encoding: .utf8)) ?? "").contains("attempt.failed")
            }
            let lines = try String(contentsOf: record, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 1)
            let delivery = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            let event = try #require(delivery["event"] as? [String: Any])
            #expect(event["event"] as? String == "attempt.failed")
            #expect(((event["attempt"] as? [String: Any])?["id"] as? NSNumber)?.int64Value == failing[0], "\(event)")
            #expect((event["error"] as? [String: Any])?["http_status"] as? Int == 404, "\(event)")
            // The endpoint answered 2xx: the node recorded the delivery as succeeded.
            try await eventually("the delivery to be recorded", timeout: .seconds(10)) {
                try await cluster.scalar("SELECT count(*)::int FROM async_task_attempts WHERE target = '@webhook' AND status = 'succeeded'") == 1
            }

            // Replays of what the node sent: the original is accepted again, a changed body with its signature is not.
            let body = try #require(delivery["body"] as? String)
            let signature = try #require(delivery["signature"] as? String)
            #expect(signature.hasPrefix("t=") && signature.contains(",v1="))
            func post(_ body: String) async throws -> (status: Int, text: String) {
                var request = URLRequest(url: try #require(URL(string: url)))
                request.httpMethod = "POST"
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.setValue(signature, forHTTPHeaderField: "AsyncTask-Signature")
                request.httpBody = Data(body.utf8)
                let (data, response) = try await URLSession.shared.data(for: request)
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
            }
            #expect(try await post(body).status == 204)
            #expect(body.contains("HTTP status 404"))
            let tampered = try await post(body.replacingOccurrences(of: "HTTP status 404", with: "HTTP status 200"))
            #expect(tampered.status == 401 && tampered.text.contains("does not match the body"), "\(tampered)")
            #expect(try String(contentsOf: record, encoding: .utf8).split(separator: "\n").count == 2)
        }
    }

    @Test(
        "the gem loads through Bundler by path with the system's gems, and its gemspec asks for the Ruby its code needs (3.0: endless def, OpenSSL.fixed_length_secure_compare)"
    )
    func loadsThroughBundler() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-bundler-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let gem = Self.rubyDirectory.deletingLastPathComponent().path
        try "source 'https://rubygems.org'\ngem 'async_task_cluster', path: '\(gem)'\n".write(
            to: directory.appendingPathComponent("Gemfile"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = directory.path
        environment["BUNDLE_GEMFILE"] = directory.appendingPathComponent("Gemfile").path
        environment["BUNDLE_APP_CONFIG"] = directory.appendingPathComponent(".bundle").path
        // --local: resolve from the installed gems (Debian's ruby-activerecord, ruby-pg), never the network.
        let lock = try await ChildProcess.run(["/usr/bin/bundle", "lock", "--local"], environment: environment, directory: directory)
        try #require(lock.exitCode == 0, "\(lock.stdout) \(lock.stderr)")
        let script = """
            require 'async_task_cluster'
            spec = Gem.loaded_specs.fetch('async_task_cluster')
            puts JSON.generate(
              version: AsyncTaskCluster::VERSION, base_attempt: AsyncTask::BaseAttempt.name, required: spec.required_ruby_version.to_s,
              admits_2_7: spec.required_ruby_version.satisfied_by?(Gem::Version.new('2.7.8')),
              admits_3_0: spec.required_ruby_version.satisfied_by?(Gem::Version.new('3.0.0')),
              admits_running: spec.required_ruby_version.satisfied_by?(Gem::Version.new(RUBY_VERSION)))
            """
        let run = try await ChildProcess.run(["/usr/bin/bundle", "exec", Self.ruby, "-e", script], environment: environment, directory: directory)
        try #require(run.exitCode == 0, "\(run.stdout) \(run.stderr)")
        let out = try #require(
            JSONSerialization.jsonObject(with: Data((run.stdout.split(separator: "\n").last.map(String.init) ?? "").utf8)) as? [String: Any])
        #expect(out["base_attempt"] as? String == "AsyncTaskCluster::BaseAttempt")
        #expect(out["admits_running"] as? Bool == true && out["admits_3_0"] as? Bool == true)
        #expect(out["admits_2_7"] as? Bool == false, "required_ruby_version \(out["required"] ?? "")")
    }
}
