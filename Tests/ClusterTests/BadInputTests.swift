import AsyncTask
import Foundation
import LoopbackHTTPServer
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Bad input at the level a user sees it: rows written with plain SQL by a producer that got something wrong,
/// and hostile targets, against a real `asynctask worker` process, real PostgreSQL and real HTTP servers.
///
/// In every case the bad input gets a clear error (the database's for what the schema refuses, a `failed` row
/// with `last_error_kind` and `last_error` for what a node cannot run), good attempts beside it all succeed,
/// the node keeps running and ready, and every attempt ends in a definite state.
@Suite("Bad input against a running node", .serialized)
struct BadInputTests {
    static let outcome = PostgresStatement(
        name: "bad_input_outcome",
        sql: """
            SELECT status, num_attempts, locked_by IS NULL AS unlocked, coalesce(last_error_kind, '') AS kind,
                   coalesce(last_error, '') AS error, coalesce(last_http_status, 0) AS http
            FROM async_task_attempts WHERE id = $1
            """)

    /// What the database holds for one attempt.
    struct Outcome: CustomStringConvertible {
        var status: String
        var tries: Int
        var unlocked: Bool
        var kind: String
        var error: String
        var http: Int
        var description: String { "\(status) after \(tries) tries, kind '\(kind)', HTTP \(http): \(error)" }
    }

    func outcome(_ cluster: Cluster, _ id: Int64) async throws -> Outcome {
        let row = try await cluster.pool.query(Self.outcome, [id]).single()
        return Outcome(
            status: try row.decode(String.self, "status"), tries: try row.decode(Int.self, "num_attempts"),
            unlocked: try row.decode(Bool.self, "unlocked"), kind: try row.decode(String.self, "kind"),
            error: try row.decode(String.self, "error"), http: try row.decode(Int.self, "http"))
    }

    /// Inserts one row as a non-Swift producer would (plain SQL); returns its id.
    func insert(
        _ cluster: Cluster, target: String = "OrderClient", method: String = "fulfill", args: String = "{}", token: String? = nil,
        encryptor: String? = nil, maxAttempts: Int? = nil
    ) async throws -> Int64 {
        Int64(
            try await cluster.scalar(
                """
                INSERT INTO async_task_attempts (target, method_name, method_args, idempotence_token, encryptor, max_attempts)
                VALUES ($1, $2, $3::jsonb, $4, $5, $6) RETURNING id
                """, [target, method, args, token, encryptor, maxAttempts]))
    }

    func get(_ url: String) async throws -> Int {
        let (_, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    /// The node's resident and peak resident memory in bytes (`VmRSS`, `VmHWM` of /proc/PID/status).
    func memory(of process: ManagedProcess) throws -> (resident: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        func kibibytes(_ field: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (kibibytes("VmRSS"), kibibytes("VmHWM"))
    }

    /// Starts a node and waits until it is ready; returns it with its admin URL.
    func startReadyNode(_ cluster: Cluster, otherTargets: [String] = []) async throws -> (ManagedProcess, String) {
        let worker = try cluster.startWorker(node: ["concurrency: 32"], otherTargets: otherTargets)
        let admin = try await cluster.adminURL(of: worker)
        try await eventually("the node is ready", timeout: .seconds(30)) { (try? await get(admin + "/readyz")) == 200 }
        return (worker, admin)
    }

    /// The statement a producer would run, and what the database's error must say.
    static let refusedRows: [(sql: String, sqlState: String, mentions: String)] = [
        (
            #"INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '{"order": 1')"#, "22P02",
            "invalid input syntax for type json"
        ),
        (
            "INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '[1, 2]')", "23514",
            "async_task_attempts_method_args_check"
        ),
        (
            "INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '\"just a string\"')", "23514",
            "async_task_attempts_method_args_check"
        ),
        ("INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', NULL)", "23502", "method_args"),
        (
            #"INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '{"a": "nul \u0000 here"}')"#,
            "22P05", "unsupported Unicode escape sequence"
        ),
        (#"INSERT INTO async_task_attempts (target, method_name) VALUES ('OrderClient', E'ful\000fill')"#, "22021", "0x00"),
        (
            #"INSERT INTO async_task_attempts (target, method_name) VALUES ('OrderClient', E'ful\xfffill')"#, "22021",
            "invalid byte sequence for encoding \"UTF8\""
        ),
        (
            #"INSERT INTO async_task_attempts (target, method_name, idempotence_token) VALUES ('OrderClient', 'fulfill', E'order-\xc3\x28')"#,
            "22021", "invalid byte sequence for encoding \"UTF8\""
        ),
        ("INSERT INTO async_task_attempts (target, method_name) VALUES ('', 'fulfill')", "23514", "async_task_attempts_target_check"),
        ("INSERT INTO async_task_attempts (target, method_name) VALUES ('OrderClient', '')", "23514", "async_task_attempts_method_name_check"),
        (
            "INSERT INTO async_task_attempts (target, method_name, status, completed_at) VALUES ('OrderClient', 'fulfill', 'running', now())",
            "23514", "async_task_attempts_status_check"
        ),
        ("INSERT INTO async_task_attempts (target, method_name, max_attempts) VALUES ('OrderClient', 'fulfill', 0)", "23514", "max_attempts"),
    ]

    @Test("malformed rows: the schema refuses what it can with a clear error; the node fails the rest clearly and keeps running")
    func malformedRows() async throws {
        try await Cluster.with { cluster in
            let (worker, admin) = try await startReadyNode(cluster)
            let before = try memory(of: worker)
            let goodBefore = try await cluster.enqueue(10)

            // What the schema refuses never becomes a row: the producer gets the database's error, naming the problem.
            for row in Self.refusedRows {
                let error = await #expect(throws: PostgresError.self, "\(row.sql)") {
                    _ = try await cluster.pool.query(PostgresStatement(name: "producer_insert", sql: row.sql, isPrepared: false))
                }
                #expect(error?.sqlState?.rawValue == row.sqlState, "\(row.sql): \(String(describing: error))")
                #expect(error?.message.contains(row.mentions) == true, "\(row.sql): \(String(describing: error))")
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts") == 10, "a refused insert left a row behind")

            // What the schema accepts but no node may run: each fails permanently, naming why; the target never sees it.
            let refusedNames = [
                "fülfill", "../admin", "fulfill/../../admin?x=1", "fulfill\u{202E}lli", "ful fill", String(repeating: "a", count: 200),
            ]
            var invalidNames: [Int64] = []
            for name in refusedNames { invalidNames.append(try await insert(cluster, method: name)) }
            let injectedToken = try await insert(cluster, token: "order-1\r\nX-Injected: yes")
            let rot13 = try await insert(cluster, args: #"{"v":1,"ct":"uryyb"}"#, encryptor: "rot13")
            let missingKey = try await insert(cluster, args: #"{"v":1,"nonce":"AAAAAAAAAAAAAAAA","ct":"AAAA"}"#, encryptor: "aes-256-gcm:nokey")
            // Weird but valid: a Unicode token is sent as its UTF-8 bytes; the call succeeds.
            let unicodeToken = try await insert(cluster, token: "заказ-🔑-7")
            // 10 MiB of arguments: sent as they are, promptly, while the small attempts keep flowing.
            let huge = Int64(
                try await cluster.scalar(
                    """
                    INSERT INTO async_task_attempts (target, method_name, method_args)
                    VALUES ('OrderClient', 'fulfill', jsonb_build_object('blob', repeat('x', 10 * 1024 * 1024))) RETURNING id
                    """))
            // A target no node serves: stays pending, untouched, and is reported.
            let unserved = try await insert(cluster, target: "BillingClient", method: "charge")
            let goodAfter = try await cluster.enqueue(10)

            let ended = invalidNames + [injectedToken, rot13, missingKey, unicodeToken, huge] + goodBefore + goodAfter
            try await eventually("every servable attempt ends", timeout: .seconds(60)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status <> 'pending'", [ended])
                    == ended.count
            }

            for (id, name) in zip(invalidNames, refusedNames) {
                let result = try await outcome(cluster, id)
                #expect(result.status == "failed" && result.tries == 1 && result.kind == "invalid_method_name", "\(name): \(result)")
                #expect(result.error.contains("is not allowed"), "\(result)")
            }
            let injected = try await outcome(cluster, injectedToken)
            #expect(injected.status == "failed" && injected.kind == "invalid_request" && injected.error.contains("control characters"), "\(injected)")
            let unknownScheme = try await outcome(cluster, rot13)
            #expect(
                unknownScheme.status == "failed" && unknownScheme.kind == "decryption" && unknownScheme.error.contains("rot13"), "\(unknownScheme)")
            let unknownKey = try await outcome(cluster, missingKey)
            #expect(unknownKey.status == "failed" && unknownKey.kind == "decryption" && unknownKey.error.contains("nokey"), "\(unknownKey)")
            #expect(unknownKey.error.contains("attempts retry \(missingKey)"), "the error says how to recover: \(unknownKey)")
            let called = Set(try cluster.recordedCalls().map(\.id))
            #expect(called.isDisjoint(with: invalidNames + [injectedToken, rot13, missingKey]), "a refused attempt reached the target")

            let unicode = try await outcome(cluster, unicodeToken)
            #expect(unicode.status == "succeeded", "\(unicode)")
            let hugeResult = try await outcome(cluster, huge)
            #expect(hugeResult.status == "succeeded" && hugeResult.tries == 1, "\(hugeResult)")
            #expect(called.contains(huge))
            let after = try memory(of: worker)
            // The 10 MiB argument is held a few times over while it is read, checked and sent; never unboundedly.
            #expect(after.peak - before.resident < 160 << 20, "peak \(after.peak >> 20) MiB from \(before.resident >> 20) MiB resident")
            print(
                "10 MiB arguments: node peak \(after.peak >> 20) MiB from \(before.resident >> 20) MiB resident at start, \(after.resident >> 20) MiB after"
            )

            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [goodBefore + goodAfter]) == 20)
            let pending = try await outcome(cluster, unserved)
            #expect(pending.status == "pending" && pending.tries == 0 && pending.unlocked, "\(pending)")
            let doctor = try await CommandRunner().run(["doctor"], environment: ["ASYNCTASK_DATABASE_URL": cluster.database.url])
            #expect(doctor.exitCode == 1 && doctor.stdout.contains("BillingClient"), "\(doctor.stdout)\(doctor.stderr)")

            // Nothing lost, nothing left leased, and the node is still up and ready.
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts") == ended.count + 1)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 0)
            #expect(worker.isRunning)
            #expect(try await get(admin + "/readyz") == 200)
        }
    }

    @Test("hostile targets: a 50 MiB body, a 1 byte/s drip, invalid HTTP, HTTP/0.9, a redirect to another host, a TLS failure")
    func hostileTargets() async throws {
        let plain = try await LoopbackHTTPServer.start()
        let elsewhere = try await LoopbackHTTPServer.start()
        let invalid = try await LoopbackHTTPServer.startRaw(reply: Array("HTTP/1.1 200 OK\r\nContent-Length: banana\r\n\r\nhello".utf8))
        let ancient = try await LoopbackHTTPServer.startRaw(reply: Array("<html>hello from 1991</html>\n".utf8))
        let authority = try TestCertificateAuthority.generate()
        let selfSigned = try await LoopbackHTTPServer.start(
            tls: .init(certificateFile: authority.serverCertificateFile, keyFile: authority.serverKeyFile))
        let servers = [plain, elsewhere, invalid, ancient, selfSigned]
        do {
            try await runHostileTargets(plain: plain, elsewhere: elsewhere, invalid: invalid, ancient: ancient, selfSigned: selfSigned)
        } catch {
            for server in servers { try? await server.stop() }
            authority.remove()
            throw error
        }
        for server in servers { try? await server.stop() }
        authority.remove()
    }

    private func runHostileTargets(
        plain: LoopbackHTTPServer, elsewhere: LoopbackHTTPServer, invalid: LoopbackHTTPServer, ancient: LoopbackHTTPServer,
        selfSigned: LoopbackHTTPServer
    ) async throws {
        let fiftyMiB = 50 << 20
        try await Cluster.with { cluster in
            let backoff = "backoff: { base: 50ms, max: 100ms }"
            let (worker, admin) = try await startReadyNode(
                cluster,
                otherTargets: [
                    "Big: { url: \"\(plain.baseURL)/big/\(fiftyMiB)\", timeout: 30s, max_attempts: 1 }",
                    "Drip: { url: \"\(plain.baseURL)/drip/100/1000\", timeout: 2s, max_attempts: 2, \(backoff) }",
                    "Invalid: { url: \"\(invalid.baseURL)\", max_attempts: 2, \(backoff) }",
                    "Ancient: { url: \"\(ancient.baseURL)\", max_attempts: 2, \(backoff) }",
                    "Redirect: { url: \"\(plain.baseURL)/redirect/\(elsewhere.port)\", max_attempts: 3, \(backoff) }",
                    "SelfSigned: { url: \"\(selfSigned.baseURL)\", max_attempts: 2, \(backoff) }",
                ])
            let before = try memory(of: worker)
            var ids: [String: Int64] = [:]
            for target in ["Big", "Drip", "Invalid", "Ancient", "Redirect", "SelfSigned"] {
                ids[target] = try await insert(cluster, target: target)
            }
            let good = try await cluster.enqueue(20)
            do {
                try await eventually("every attempt ends", timeout: .seconds(60)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'pending'") == 0
                }
            } catch {
                for (target, id) in ids { print("\(target): \(try await outcome(cluster, id))") }
                throw error
            }

            // 50 MiB body: cut at the 1 MiB cap (never buffered whole); the 200 is recorded as success.
            let big = try await outcome(cluster, ids["Big"]!)
            #expect(big.status == "succeeded" && big.tries == 1, "\(big)")
            let after = try memory(of: worker)
            #expect(
                after.peak - before.resident < 30 << 20,
                "peak \(after.peak >> 20) MiB from \(before.resident >> 20) MiB resident: was the 50 MiB body buffered?")
            print("50 MiB body: node peak \(after.peak >> 20) MiB from \(before.resident >> 20) MiB resident at start")

            // 1 byte per second: the 2 s target timeout fires, the timeout is retried, then the tries run out.
            let drip = try await outcome(cluster, ids["Drip"]!)
            #expect(drip.status == "failed" && drip.tries == 2 && drip.kind == "timeout", "\(drip)")
            #expect(drip.error.contains("tries exhausted (2)") && drip.error.contains("timed out"), "\(drip)")

            // Bytes that are not HTTP: a protocol error, retried (it may be a passing fault), then failed.
            for name in ["Invalid", "Ancient"] {
                let result = try await outcome(cluster, ids[name]!)
                #expect(result.status == "failed" && result.tries == 2 && result.kind == "protocol", "\(name): \(result)")
                #expect(result.error.contains("invalid HTTP reply"), "\(name): \(result)")
            }
            #expect(invalid.connectionsAccepted >= 2 && ancient.connectionsAccepted >= 2)

            // A redirect is not followed: a permanent failure at once, and the other host never hears of it.
            let redirect = try await outcome(cluster, ids["Redirect"]!)
            #expect(redirect.status == "failed" && redirect.tries == 1 && redirect.kind == "http_status" && redirect.http == 302, "\(redirect)")
            #expect(redirect.error.contains("redirects are not followed"), "\(redirect)")
            #expect(elsewhere.connectionsAccepted == 0 && elsewhere.requestsReceived == 0)

            // A certificate the node does not trust: a TLS error before any request is sent.
            let tls = try await outcome(cluster, ids["SelfSigned"]!)
            #expect(tls.status == "failed" && tls.tries == 2 && tls.kind == "tls" && tls.error.contains("TLS failed"), "\(tls)")
            #expect(selfSigned.connectionsAccepted >= 2 && selfSigned.requestsReceived == 0)

            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [good]) == 20)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts") == 26)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 0)
            #expect(worker.isRunning)
            #expect(try await get(admin + "/readyz") == 200)
        }
    }
}
