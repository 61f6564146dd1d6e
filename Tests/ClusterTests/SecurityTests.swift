import Foundation
import LoopbackHTTPServer
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Security properties proven against real `asynctask worker` processes: rows cannot steer calls, TLS is
/// verified unless a target opts out, secrets stay out of every output, admin actions need the token.
@Suite("Security: real worker processes", .serialized)
struct SecurityTests {
    /// An HTTP/1.1 200 with a small JSON body, then close: what the raw recording servers answer.
    static let okReply = Array(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}".utf8)

    @Test(
        "rows cannot steer a node: hostile method names and a CRLF idempotency key fail before any request, unknown or URL-like targets stay unclaimed"
    )
    func rowsCannotSteerCalls() async throws {
        // The configured target and a canary that only a row could name: each counts every TCP connection.
        let configured = try await LoopbackHTTPServer.startRaw(reply: Self.okReply)
        let canary = try await LoopbackHTTPServer.startRaw(reply: Self.okReply)
        try await stopping([configured, canary]) {
            try await Cluster.with { cluster in
                let hostileMethods = [
                    "../admin", "..", "a/../../admin", "a?b", "a#b", "%2F", "a%2F..%2Fadmin", "a\r\nX-Injected: y", "a\nb", "a b",
                    "@\(canary.baseURL)", "\(canary.baseURL)/x", "a/b", String(repeating: "a", count: 129), "é",
                ]
                var hostileIDs: [Int64] = []
                for method in hostileMethods {
                    hostileIDs.append(try await insert(cluster, target: "OrderClient", method: method))
                }
                // A header injection through the idempotency key (sent as `Idempotency-Key`): refused before sending.
                let injectedKey = Int64(
                    try await cluster.scalar(
                        "INSERT INTO async_task_attempts (target, method_name, method_args, idempotence_token) VALUES ('OrderClient', 'fulfill', '{}', $1) RETURNING id",
                        ["k\r\nX-Injected: y"]))
                let unservedTargets = ["Evil", canary.baseURL, "\(canary.baseURL)/rpc", "orderclient", "OrderClient ", "@webhook2"]
                var unservedIDs: [Int64] = []
                for target in unservedTargets {
                    unservedIDs.append(try await insert(cluster, target: target, method: "fulfill"))
                }
                let worker = try cluster.startWorker(targetURL: "\(configured.baseURL)/rpc")
                try await eventually("every hostile row has an outcome", timeout: .seconds(30)) {
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'pending'", [hostileIDs]) == 0
                }
                // Failed permanently at the first try, before any request, with a clear kind and message.
                #expect(
                    try await cluster.scalar(
                        """
                        SELECT count(*) FROM async_task_attempts
                        WHERE id = ANY($1) AND status = 'failed' AND last_error_kind = 'invalid_method_name' AND last_error LIKE '%is not allowed%'
                          AND num_attempts = 1
                        """, [hostileIDs]) == hostileIDs.count)
                try await eventually("the row with the injected key has an outcome") {
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status <> 'pending'", [injectedKey]) == 1
                }
                #expect(
                    try await cluster.scalar(
                        "SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed' AND last_error_kind = 'invalid_request'",
                        [injectedKey]) == 1)
                // A few heartbeats later the unserved rows are still untouched: never claimed, never called.
                try await Task.sleep(for: .seconds(1))
                #expect(
                    try await cluster.scalar(
                        """
                        SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'pending' AND num_attempts = 0 AND locked_by IS NULL
                        """, [unservedIDs]) == unservedIDs.count)
                #expect(worker.stderr.contains("no live node serves") && worker.stderr.contains("Evil="), "unserved targets are reported")
                #expect(configured.connectionsAccepted == 0, "a hostile row reached the configured target")
                #expect(canary.connectionsAccepted == 0, "a row sent the node to an address outside its config")

                // The control: a valid row reaches the configured server, so the counts above could have moved.
                let valid = try await insert(cluster, target: "OrderClient", method: "fulfill")
                try await eventually("the valid row succeeds") {
                    try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [valid]) == 1
                }
                #expect(configured.connectionsAccepted == 1)
                #expect(canary.connectionsAccepted == 0)
                #expect(worker.isRunning)
            }
        }
    }

    @Test("TLS: an untrusted certificate fails with kind tls (no request sent); a configured CA or the explicit per-target opt-out succeed")
    func tlsIsVerifiedUnlessDisabled() async throws {
        let authority = try TestCertificateAuthority.generate()
        defer { authority.remove() }
        let server = try await LoopbackHTTPServer.start(
            tls: .init(certificateFile: authority.serverCertificateFile, keyFile: authority.serverKeyFile))
        try await stopping([server]) {
            try await Cluster.with { cluster in
                let url = "\(server.baseURL)/echo"
                // Each phase: one node with one TLS setting, one attempt of one try; the node is stopped before the next.
                func phase(_ tls: [String]) async throws -> (status: String, kind: String?) {
                    let worker = try cluster.startWorker(target: tls, targetURL: url)
                    let id = try await cluster.enqueue(1, maxAttempts: 1)[0]
                    var result: (String, String?) = ("", nil)
                    try await eventually("attempt \(id) finishes", timeout: .seconds(30)) {
                        let row = try await cluster.pool.query(
                            .init(name: "tls_phase", sql: "SELECT status, last_error_kind FROM async_task_attempts WHERE id = $1", isPrepared: false),
                            [id]
                        ).single()
                        result = (try row.decode(String.self, "status"), try row.decode(String?.self, "last_error_kind"))
                        return result.0 != "pending"
                    }
                    worker.send(SIGKILL)
                    _ = await worker.waitForExit(timeout: .seconds(10))
                    return result
                }
                let untrusted = try await phase([])
                #expect(untrusted.status == "failed" && untrusted.kind == "tls", "default verification: \(untrusted)")
                #expect(server.requestsReceived == 0, "no request crosses an unverified connection")
                let withCA = try await phase(["tls: { ca_file: \"\(authority.caFile)\" }"])
                #expect(withCA.status == "succeeded", "with the CA: \(withCA)")
                let optedOut = try await phase(["tls: { insecure_skip_verify: true }"])
                #expect(optedOut.status == "succeeded", "with insecure_skip_verify: \(optedOut)")
                #expect(server.requestsReceived == 2)
            }
        }
    }

    /// Runs `body`, then stops `servers` however it ended.
    private func stopping(_ servers: [LoopbackHTTPServer], _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            for server in servers { try? await server.stop() }
            throw error
        }
        for server in servers { try await server.stop() }
    }

    /// Inserts one attempt with plain SQL, as a producer in any language would; returns its id.
    private func insert(_ cluster: Cluster, target: String, method: String) async throws -> Int64 {
        Int64(
            try await cluster.scalar(
                "INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ($1, $2, '{}') RETURNING id", [target, method]))
    }
}
