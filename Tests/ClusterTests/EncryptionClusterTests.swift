import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Encrypted `method_args` end to end: producers (library, CLI, Python) encrypt, real worker processes decrypt
/// and call the example target, which records the `order_number` it received.
@Suite("Encrypted arguments across a cluster", .serialized)
struct EncryptionClusterTests {
    static let row = PostgresStatement(
        name: "encrypted_row",
        sql: """
            SELECT status, coalesce(encryptor, '') AS encryptor, method_args::text AS method_args, coalesce(last_error, '') AS last_error
            FROM async_task_attempts WHERE id = $1
            """)

    let keys = ["k1": Self.randomKey(), "k2": Self.randomKey(), "k9": Self.randomKey()]

    static func randomKey() -> String {
        Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
    }

    /// Key values reach configs through `${VAR}` expansion, as in production.
    var environment: [String: String] {
        Dictionary(uniqueKeysWithValues: keys.map { ("TEST_KEY_\($0.key.uppercased())", $0.value) })
    }

    /// A one-line `encryption:` block naming `ids`, their values from the environment.
    func encryptionYAML(primary: String, _ ids: [String]) -> [String] {
        [#"encryption: { primary: \#(primary), keys: { \#(ids.map { #"\#($0): "${TEST_KEY_\#($0.uppercased())}""# }.joined(separator: ", ")) } }"#]
    }

    func encryptor(primary: String, _ ids: [String]) throws -> AESGCMEncryptor {
        AESGCMEncryptor(keyRing: try KeyRing(primary: primary, base64Keys: keys.filter { ids.contains($0.key) }))
    }

    /// A config file for the CLI (`enqueue --config`, `keys rotate --config`).
    func cliConfig(_ cluster: Cluster, primary: String, _ ids: [String]) throws -> String {
        let path = cluster.directory.appendingPathComponent("cli-\(primary).yaml")
        let yaml = """
            database_url: \(cluster.database.url)
            targets:
              OrderClient: { url: \(cluster.targetURL) }
            \(encryptionYAML(primary: primary, ids).joined(separator: "\n"))
            """
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    func enqueue(_ cluster: Cluster, _ count: Int, with encryptor: any Encryptor, from first: Int = 0) async throws -> [Int64] {
        let attempts = try (first..<(first + count)).map { n in
            try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"card":"SECRET-CARD-\#(n)","order_number":\#(n)}"#.utf8))
        }
        return try await cluster.pool.withTransaction { try await AttemptQueue(encryptor: encryptor).enqueue(attempts, on: $0) }
    }

    @Test("library and CLI enqueue encrypt; a node with the key ring calls the target with the decrypted arguments; no plaintext in rows or logs")
    func roundTrip() async throws {
        try await Cluster.with { cluster in
            let ids = try await enqueue(cluster, 20, with: try encryptor(primary: "k2", ["k1", "k2"]))
            let config = try cliConfig(cluster, primary: "k2", ["k1", "k2"])
            let cli = try await CommandRunner().run(
                [
                    "enqueue", "--config", config, "--target", "OrderClient", "--method", "fulfill", "--args",
                    #"{"card":"SECRET-CARD-CLI","order_number":4242}"#,
                ],
                environment: environment)
            #expect(cli.exitCode == 0, "\(cli.stderr)")
            let cliID = try #require(Int64(cli.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            for id in ids + [cliID] {
                let row = try await cluster.pool.query(Self.row, [id]).single()
                #expect(try row.decode(String.self, "encryptor") == "aes-256-gcm:k2")
                #expect(try !row.decode(String.self, "method_args").contains("SECRET"))
            }

            let worker = try cluster.startWorker(extra: encryptionYAML(primary: "k2", ["k1", "k2"]), environment: environment)
            try await eventually("all succeed", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 21 }
            let received = try cluster.recordedOrderNumbers()
            for (index, id) in ids.enumerated() { #expect(received[id] == index) }
            #expect(received[cliID] == 4242)
            #expect(!worker.stderr.contains("SECRET") && !worker.stdout.contains("SECRET"), "plaintext arguments reached the worker's logs")
            #expect(!worker.stderr.contains(keys["k2"]!), "a key reached the worker's logs")
            let show = try await CommandRunner().run(["attempts", "show", "--json", "--database-url", cluster.database.url, "\(cliID)"])
            #expect(show.exitCode == 0 && !show.stdout.contains("SECRET"))
        }
    }

    @Test("an unknown key id fails with kind decryption naming the key; once the node has the key, `attempts retry` runs it")
    func unknownKeyThenRetry() async throws {
        try await Cluster.with { cluster in
            let lost = try await enqueue(cluster, 1, with: try encryptor(primary: "k9", ["k9"]), from: 99)[0]
            let fine = try await enqueue(cluster, 1, with: try encryptor(primary: "k2", ["k2"]))[0]
            let first = try cluster.startWorker(extra: encryptionYAML(primary: "k2", ["k1", "k2"]), environment: environment)
            try await eventually("both finish", timeout: .seconds(60)) { (try await cluster.statusCounts()["pending"] ?? 0) == 0 }
            let row = try await cluster.pool.query(Self.row, [lost]).single()
            #expect(try row.decode(String.self, "status") == "failed")
            let error = try row.decode(String.self, "last_error")
            #expect(error.hasPrefix("decryption:"))
            #expect(error.contains("'k9'") && error.contains("aes-256-gcm:k9"))
            #expect(!error.contains("SECRET") && !error.contains(keys["k9"]!))
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [fine]) == 1)
            #expect(try cluster.recordedOrderNumbers()[lost] == nil, "the target was called for an undecryptable row")

            // The operator adds the key to the nodes (a restart with the new config), then retries the attempt.
            first.send(SIGTERM)
            #expect(await first.waitForExit(timeout: .seconds(30)) != nil)
            try cluster.startWorker(extra: encryptionYAML(primary: "k2", ["k2", "k9"]), environment: environment)
            let retry = try await CommandRunner().run(["attempts", "retry", "--database-url", cluster.database.url, "\(lost)"])
            #expect(retry.exitCode == 0, "\(retry.stderr)")
            try await eventually("the retried attempt succeeds", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [lost]) == 1
            }
            #expect(try cluster.recordedOrderNumbers()[lost] == 99)
        }
    }

    @Test("tampered ciphertext and an envelope moved to another method fail with kind decryption; the target is never called")
    func tampered() async throws {
        try await Cluster.with { cluster in
            let ids = try await enqueue(cluster, 2, with: try encryptor(primary: "k2", ["k2"]))
            let stored = try await cluster.pool.query(Self.row, [ids[0]]).single().decode(String.self, "method_args")
            var envelope = try #require(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
            var ct = try #require(Data(base64Encoded: envelope["ct"] as? String ?? ""))
            ct[0] ^= 0x80
            envelope["ct"] = ct.base64EncodedString()
            let tampered = String(decoding: try JSONSerialization.data(withJSONObject: envelope), as: UTF8.self)
            try await cluster.pool.query(
                PostgresStatement(name: "tamper", sql: "UPDATE async_task_attempts SET method_args = $2::jsonb WHERE id = $1"), [ids[0], tampered])
            // A valid envelope copied to a row of another method: the authenticated data no longer matches.
            let moved = Int64(
                try await cluster.scalar(
                    """
                    INSERT INTO async_task_attempts (target, method_name, method_args, encryptor)
                    SELECT target, 'cancel', method_args, encryptor FROM async_task_attempts WHERE id = $1 RETURNING id
                    """, [ids[1]]))

            try cluster.startWorker(extra: encryptionYAML(primary: "k2", ["k2"]), environment: environment)
            try await eventually("all finish", timeout: .seconds(60)) { (try await cluster.statusCounts()["pending"] ?? 0) == 0 }
            for id in [ids[0], moved] {
                let row = try await cluster.pool.query(Self.row, [id]).single()
                #expect(try row.decode(String.self, "status") == "failed")
                let error = try row.decode(String.self, "last_error")
                #expect(error.hasPrefix("decryption:") && error.contains("aes-256-gcm:k2") && error.contains("failed authentication"), "\(error)")
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [ids[1]]) == 1)
            let called = try cluster.recordedOrderNumbers()
            #expect(called[ids[0]] == nil && called[moved] == nil)
        }
    }

    @Test("`keys rotate` re-encrypts pending rows from k1 to k2 while a node drains them; every attempt succeeds with its arguments")
    func rotationWhileRunning() async throws {
        // Calls of 60 ms at 8 slots: a drain of at least 15 s, so the rotation overlaps it on a loaded machine.
        try await Cluster.with(targetArguments: ["--delay-ms", "60"]) { cluster in
            let count = 2000
            let ids = try await enqueue(cluster, count, with: try encryptor(primary: "k1", ["k1"]))
            try cluster.startWorker(
                node: ["concurrency: 8", "claim_batch: 8"], target: ["concurrency: 8"],
                extra: encryptionYAML(primary: "k2", ["k1", "k2"]), environment: environment)
            try await eventually("the node is draining", timeout: .seconds(60)) { (try await cluster.statusCounts()["succeeded"] ?? 0) >= 50 }

            let config = try cliConfig(cluster, primary: "k2", ["k1", "k2"])
            let rotate = try await CommandRunner().run(
                ["keys", "rotate", "--config", config, "--batch-size", "100", "--json"], environment: environment)
            #expect(rotate.exitCode == 0, "\(rotate.stdout) \(rotate.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(rotate.stdout.utf8)) as? [String: Any])
            let rotated = try #require(report["rotated"] as? Int)
            #expect(rotated > 100)
            #expect(report["primary"] as? String == "aes-256-gcm:k2")
            #expect((report["failed"] as? [Any])?.isEmpty == true)
            #expect(
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'pending' AND encryptor = 'aes-256-gcm:k1'") == 0)
            #expect(
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'pending'") > 0,
                "the drain ended before the rotation: no overlap")

            try await eventually("all succeed", timeout: .seconds(90)) { try await cluster.statusCounts()["succeeded"] == count }
            let received = try cluster.recordedOrderNumbers()
            #expect(ids.enumerated().allSatisfy { received[$0.element] == $0.offset }, "some attempt got wrong or no arguments")
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE encryptor = 'aes-256-gcm:k2'") >= rotated)
        }
    }

    @Test("an envelope written by examples/encrypt_args.py (Python `cryptography`) and inserted with plain SQL is decrypted by a node")
    func pythonEnvelope() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/encrypt_args.py")
        let envelope = try await Self.runPython(
            script: script.path,
            arguments: [
                "--kid", "k2", "--target", "OrderClient", "--method", "fulfill", #"{"customer_token": "c_py", "order_number": 9001}"#,
            ], environment: ["ASYNCTASK_KEY": keys["k2"]!])
        try await Cluster.with { cluster in
            let id = Int64(
                try await cluster.scalar(
                    """
                    INSERT INTO async_task_attempts (target, method_name, method_args, encryptor)
                    VALUES ('OrderClient', 'fulfill', $1::jsonb, 'aes-256-gcm:k2') RETURNING id
                    """, [envelope]))
            try cluster.startWorker(extra: encryptionYAML(primary: "k2", ["k1", "k2"]), environment: environment)
            try await eventually("the Python-encrypted attempt succeeds", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [id]) == 1
            }
            #expect(try cluster.recordedOrderNumbers()[id] == 9001)
        }
    }

    /// Runs the example with the first Python that has `cryptography` (PATH's, then the system's, as
    /// scripts/ensure-deps.sh installs it) and returns its stdout.
    static func runPython(script: String, arguments: [String], environment: [String: String]) async throws -> String {
        var failures: [String] = []
        for python in ["python3", "/usr/bin/python3"] {
            let output = try await ChildProcess.run(
                ["/usr/bin/env", python, script] + arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
            if output.exitCode == 0 { return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
            failures.append("\(python): exit \(output.exitCode): \(output.stderr.suffix(500))")
        }
        throw TestSetupError(
            "examples/encrypt_args.py failed (run scripts/ensure-deps.sh to install python3-cryptography): \(failures.joined(separator: "; "))")
    }
}

extension Cluster {
    /// The `order_number` the target received for each attempt id (the latest call's).
    func recordedOrderNumbers() throws -> [Int64: Int] {
        let text = (try? String(contentsOf: recordFile, encoding: .utf8)) ?? ""
        var numbers: [Int64: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value, let number = (object["order_number"] as? NSNumber)?.intValue
            else { continue }
            numbers[id] = number
        }
        return numbers
    }
}
