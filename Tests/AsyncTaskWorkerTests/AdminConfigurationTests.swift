import AsyncTaskWorker
import Foundation
import Testing

@Suite("Worker configuration: admin server and retention")
struct AdminConfigurationTests {
    func load(_ extra: String, environment: [String: String] = [:]) async throws(ConfigurationError) -> WorkerConfiguration {
        let yaml = """
            database_url: postgresql://app@db/app
            targets: { OrderClient: { url: "http://orders.internal/rpc" } }
            \(extra)
            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-admin-config-\(UUID()).yaml").path
        try? yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try await WorkerConfiguration.load(file: path, environment: environment)
    }

    @Test("defaults: admin on 127.0.0.1:9090 without a token; retention 7 d / 30 d every minute")
    func defaults() async throws {
        let config = try await load("")
        #expect(config.admin == .init(enabled: true, host: "127.0.0.1", port: 9090, token: nil))
        #expect(config.retention == .init(succeeded: .seconds(7 * 86_400), failed: .seconds(30 * 86_400), interval: .seconds(60)))
    }

    @Test("admin.listen (IPv4, [IPv6], off), admin.token from ${VAR}, retention durations, ASYNCTASK_ADMIN_LISTEN override")
    func values() async throws {
        let config = try await load(
            """
            admin: { listen: "[::1]:9191", token: "${ADMIN_TOKEN}" }
            retention: { succeeded: 2d, failed: 12h, interval: 30s }
            """, environment: ["ADMIN_TOKEN": "0123456789abcdef-secret"])
        #expect(config.admin.host == "::1" && config.admin.port == 9191)
        #expect(config.admin.token == "0123456789abcdef-secret")
        #expect(config.retention == .init(succeeded: .seconds(2 * 86_400), failed: .seconds(12 * 3600), interval: .seconds(30)))
        #expect(try await load("admin: { listen: \"off\" }").admin.enabled == false)
        let overridden = try await load("admin: { listen: \"127.0.0.1:9191\" }", environment: ["ASYNCTASK_ADMIN_LISTEN": "0.0.0.0:9300"])
        #expect(overridden.admin.host == "0.0.0.0" && overridden.admin.port == 9300)
    }

    @Test(
        "bad values name their key",
        arguments: [
            ("admin: { listen: \"9090\" }", "admin.listen"),
            ("admin: { listen: \"host:99999\" }", "admin.listen"),
            ("admin: { token: tiny-tok }", "admin.token"),
            ("retention: { succeeded: forever }", "retention.succeeded"),
            ("retention: { intervall: 1m }", "retention.intervall"),
        ])
    func badValues(yaml: String, key: String) async throws {
        do {
            _ = try await load(yaml)
            Issue.record("\(yaml) loaded")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(!error.description.contains("tiny-tok"), "the token itself is not echoed")
        }
    }
}
