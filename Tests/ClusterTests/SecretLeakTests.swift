import Foundation
import LoopbackHTTPServer
import PostgresClient
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The database password, the webhook secret and the admin token never appear in anything a node or the CLI
/// shows: logs (at debug level), start-up errors, `/metrics`, the dashboard, the JSON API, `config check`.
/// The database is a private server that makes one role give its password (scram-sha-256), so a wrong password
/// really fails and the right one is really used.
@Suite("Secrets stay out of logs, errors, metrics, dashboard and API", .serialized)
struct SecretLeakTests {
    @Test("database password, webhook secret and admin token never leak; admin actions need the token on a real node")
    func secretsNeverLeak() async throws {
        let server = try await PostgresServer.start(hbaLines: ["host all secret_user 127.0.0.1/32 scram-sha-256"])
        let webhookReceiver = try await LoopbackHTTPServer.start()
        do {
            try await Cluster.with(server: server.url) { try await check($0, server: server, webhookReceiver: webhookReceiver) }
        } catch {
            try? await webhookReceiver.stop()
            await server.destroy()
            throw error
        }
        try await webhookReceiver.stop()
        await server.destroy()
    }

    private func check(_ cluster: Cluster, server: PostgresServer, webhookReceiver: LoopbackHTTPServer) async throws {
        let tag = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let password = "DbPassw0rd\(tag)"
        let wrongPassword = "WrongPassw0rd\(tag)"
        let webhookSecret = "WebhookSecret\(tag)"
        let adminToken = "AdminToken\(tag)"
        let secrets = [password, wrongPassword, webhookSecret, adminToken]
        var outputs: [(String, String)] = []
        func scan(_ what: String, _ text: String) { outputs.append((what, text)) }

        // DDL takes no bind parameters; the password is generated above from letters and hex digits only.
        try await cluster.database.withConnection {
            try await $0.execute(script: "CREATE ROLE secret_user LOGIN SUPERUSER PASSWORD '\(password)'", name: "create_secret_role")
        }
        let database = cluster.database.name
        func url(password: String, port: Int) -> String { "postgresql://secret_user:\(password)@127.0.0.1:\(port)/\(database)" }
        let closedPort = try await closedLoopbackPort()

        // Start-up failures: a wrong password, an unreachable server, a password as a query parameter.
        let failing = [
            ("wrong password", url(password: wrongPassword, port: server.port), "password authentication failed"),
            ("unreachable server", url(password: password, port: closedPort), "database unreachable"),
            ("password in the query", "postgresql://secret_user@127.0.0.1:\(closedPort)/\(database)?password=\(password)", "database unreachable"),
        ]
        for (what, databaseURL, expected) in failing {
            let worker = try cluster.startWorker(environment: ["ASYNCTASK_LOG_LEVEL": "debug"], databaseURL: databaseURL)
            try await eventually("a node with a \(what) reports '\(expected)'", timeout: .seconds(30)) {
                worker.stderr.contains(expected) || !worker.isRunning
            }
            try await Task.sleep(for: .milliseconds(500))
            worker.send(SIGKILL)
            _ = await worker.waitForExit(timeout: .seconds(10))
            #expect(worker.stderr.contains(expected), "\(what): \(worker.stderr.suffix(1000))")
            scan("\(what): worker stderr", worker.stderr)
            scan("\(what): worker stdout", worker.stdout)
        }
        let cli = CommandRunner()
        for (what, databaseURL) in [
            ("wrong password", url(password: wrongPassword, port: server.port)), ("unreachable", url(password: password, port: closedPort)),
        ] {
            let output = try await cli.run(["stats", "--database-url", databaseURL])
            #expect(output.exitCode == 1, "stats with a \(what): \(output.stderr)")
            scan("stats, \(what)", output.stdout + output.stderr)
        }

        // A config file that is not valid YAML (a duplicated key): the error names the line, not the file's text.
        let broken = cluster.directory.appendingPathComponent("broken.yaml").path
        try """
        database_url: \(url(password: password, port: server.port))
        node: { concurrency: 5 }
        node: { lease: 30s }
        webhook: { url: "http://127.0.0.1:\(closedPort)/hook", secret: "\(webhookSecret)" }
        admin: { token: "\(adminToken)" }
        """.write(toFile: broken, atomically: true, encoding: .utf8)
        // A valid file whose target URL carries credentials: `config check` lists the target with them masked.
        let userinfo = cluster.directory.appendingPathComponent("userinfo.yaml").path
        try """
        database_url: \(url(password: password, port: server.port))
        targets:
          OrderClient: { url: "http://orders:\(webhookSecret)@127.0.0.1:\(closedPort)/rpc" }
        """.write(toFile: userinfo, atomically: true, encoding: .utf8)
        let listed = try await cli.run(["config", "check", userinfo])
        #expect(listed.exitCode == 0 && listed.stdout.contains("OrderClient → http://orders:***@127.0.0.1"), "\(listed.stdout) \(listed.stderr)")
        scan("config check listing a target with credentials", listed.stdout + listed.stderr)
        for arguments in [["config", "check", broken], ["worker", "--config", broken], ["stats", "--config", broken]] {
            let output = try await cli.run(arguments)
            #expect(output.exitCode == 2 && output.stderr.contains("duplicated key"), "\(arguments): \(output.stderr)")
            scan("\(arguments.joined(separator: " ")) of a broken file", output.stdout + output.stderr)
        }

        // A working node with the password, a webhook secret whose receiver fails every delivery, an admin token.
        let worker = try cluster.startWorker(
            extra: [
                "webhook: { url: \"\(webhookReceiver.baseURL)/status/503\", secret: \"\(webhookSecret)\", backoff: { base: 100ms, max: 200ms } }",
                "admin: { listen: \"127.0.0.1:0\", token: \"\(adminToken)\" }",
            ],
            environment: ["ASYNCTASK_LOG_LEVEL": "debug"], databaseURL: url(password: password, port: server.port))
        let failed = try await cluster.enqueue(3, arguments: { _ in #"{"_status":500}"# }, maxAttempts: 1)
        try await eventually("the attempts fail and their webhook deliveries fail too", timeout: .seconds(30)) {
            let failedCount = try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'failed'", [failed])
            let retriedDeliveries = try await cluster.scalar(
                "SELECT count(*) FROM async_task_attempts WHERE target = '@webhook' AND num_attempts >= 2 AND last_error IS NOT NULL")
            return failedCount == 3 && retriedDeliveries >= 1
        }
        #expect(webhookReceiver.requestsReceived >= 2)
        #expect(worker.isRunning)

        let admin = try await cluster.adminURL(of: worker)
        var ids: [Int64] = []
        for row in try await cluster.pool.query(
            PostgresStatement(name: "all_ids", sql: "SELECT id FROM async_task_attempts ORDER BY id", isPrepared: false))
        {
            ids.append(try row.decode(Int64.self, "id"))
        }
        var paths = [
            "/", "/attempts", "/attempts?status=failed", "/metrics", "/healthz", "/readyz", "/api/attempts?limit=500", "/api/nodes", "/api/stats",
        ]
        paths += ids.flatMap { ["/attempts/\($0)", "/api/attempts/\($0)"] }
        for path in paths {
            let (status, body) = try await request(admin + path)
            #expect(status == 200, "GET \(path): \(status)")
            scan("GET \(path)", body)
        }

        // Admin actions on the real node: refused without the token or with a wrong one, done with it.
        let target = failed[0]
        for authorization in [nil, "Bearer wrong-\(tag)", "Bearer ", adminToken, "Basic \(adminToken)"] {
            let (status, body) = try await request("\(admin)/api/attempts/\(target)/retry", method: "POST", authorization: authorization)
            #expect(status == 401, "POST retry with \(authorization ?? "no") authorization: \(status)")
            scan("POST retry refused", body)
        }
        // The dashboard's form: a wrong token, and the right one padded with 256 NUL bytes (a length that differs
        // by a multiple of 256 must not compare equal).
        for token in ["wrong-\(tag)", adminToken + String(repeating: "%00", count: 256), String(adminToken.dropLast())] {
            let (formStatus, formBody) = try await request("\(admin)/attempts/\(target)/retry", method: "POST", form: "token=\(token)")
            #expect(formStatus == 401, "dashboard retry with token \(token.prefix(40))…: \(formStatus)")
            scan("dashboard action refused", formBody)
        }
        #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'failed'", [target]) == 1)
        let (okStatus, okBody) = try await request("\(admin)/api/attempts/\(target)/retry", method: "POST", authorization: "Bearer \(adminToken)")
        #expect(okStatus == 200, "POST retry with the token: \(okStatus) \(okBody)")
        scan("POST retry done", okBody)
        try await eventually("the retried attempt ran again") {
            try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND num_attempts = 2", [target]) == 1
        }

        // Operator commands with the password in their URL.
        for arguments in [["stats"], ["nodes"], ["doctor"], ["attempts", "list"]] {
            let output = try await cli.run(arguments + ["--database-url", url(password: password, port: server.port)])
            #expect(!output.stdout.isEmpty, "\(arguments): \(output.stderr)")
            scan(arguments.joined(separator: " "), output.stdout + output.stderr)
        }

        // `config check` of the node's own file prints a summary, never the secrets in it.
        let configFile = cluster.directory.appendingPathComponent("\(worker.name).yaml").path
        let checked = try await cli.run(["config", "check", configFile])
        #expect(checked.exitCode == 0, "\(checked.stderr)")
        scan("config check", checked.stdout + checked.stderr)

        worker.send(SIGTERM)
        #expect(await worker.waitForExit(timeout: .seconds(20)) == 0)
        #expect(worker.stderr.contains("node started"))
        scan("worker stderr", worker.stderr)
        scan("worker stdout", worker.stdout)

        // Nor does anything the node wrote to the database (errors, webhook bodies, node rows).
        for table in ["async_task_attempts", "async_task_nodes"] {
            for row in try await cluster.pool.query(
                PostgresStatement(name: "dump_\(table)", sql: "SELECT row_to_json(t)::text AS j FROM \(table) t", isPrepared: false))
            {
                scan("a row of \(table)", try row.decode(String.self, "j"))
            }
        }

        for (what, text) in outputs {
            for secret in secrets {
                #expect(!text.contains(secret), "\(what) shows a secret: …\(excerpt(of: text, around: secret))…")
            }
        }
    }

    /// One HTTP request to the node's admin server: (status, body).
    private func request(_ url: String, method: String = "GET", authorization: String? = nil, form: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(form.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// A loopback port nothing listens on: a server's, after it stopped.
    private func closedLoopbackPort() async throws -> Int {
        let server = try await LoopbackHTTPServer.startRaw(reply: [])
        try await server.stop()
        return server.port
    }

    private func excerpt(of text: String, around secret: String) -> String {
        guard let range = text.range(of: secret) else { return "" }
        let start = text.index(range.lowerBound, offsetBy: -80, limitedBy: text.startIndex) ?? text.startIndex
        let end = text.index(range.upperBound, offsetBy: 80, limitedBy: text.endIndex) ?? text.endIndex
        return String(text[start..<end])
    }
}
