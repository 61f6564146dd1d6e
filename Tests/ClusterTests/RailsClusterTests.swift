import AsyncTask
import AsyncTaskCore
import AsyncTaskWorker
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Rails applications with real Ruby (Debian's ruby, ruby-activerecord, ruby-pg, ruby-enumerize) against the
/// test PostgreSQL and real worker processes: the unchanged async_task gem's writes across an adoption
/// (clients/ruby/test/gem_app.rb) and this repository's producer library (clients/ruby/test/library_app.rb).
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

    static func ids(_ value: Any?) -> [Int64] { (value as? [NSNumber])?.map(\.int64Value) ?? [] }
    static func id(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? -1 }

    @Test(
        "a gem table filled the gem's way is adopted while the unchanged gem keeps inserting; workers drain it with the arguments as JSON; the gem's fail! and stale saves cannot break the fence"
    )
    func adoptionDuringInserts() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "1500"], migrate: false) { cluster in
            let env = ["DATABASE_URL": cluster.database.url]
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
            let dryRun = try await cli.run(["migrate", "--adopt", "--dry-run", "--database-url", cluster.database.url])
            #expect(dryRun.exitCode == 0, "\(dryRun.stderr)")
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

            try cluster.startWorker(node: ["concurrency: 400"])
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
            let noArguments = Self.id(seed["no_args"])
            let held = Self.id(fence.json["held"])

            try await eventually("every runnable attempt to finish", timeout: .seconds(60), every: .milliseconds(200)) {
                try await cluster.scalar(
                    "SELECT count(*)::int FROM async_task_attempts WHERE status = 'pending' AND available_at < 'infinity' AND scheduled_at IS DISTINCT FROM '2099-01-01' AND (scheduled_at IS NULL OR scheduled_at < now())"
                ) == 0
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
            #expect((out["failed"] as? [Any])?.last as? String == "cancelled by support")
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
}
