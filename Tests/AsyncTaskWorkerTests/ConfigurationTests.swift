import AsyncTask
import AsyncTaskTargets
import AsyncTaskWorker
import CurlHTTP
import Foundation
import Logging
import Testing

@Suite("Worker configuration")
struct ConfigurationTests {
    func write(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-config-\(UUID()).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let valid = """
        database_url: postgresql://app:${DB_PASSWORD}@db.internal/app
        node: { concurrency: 100, lease: 20s, heartbeat: 500ms }
        targets:
          OrderClient:
            url: http://orders.internal:8080/rpc
            protocol: jsonrpc
            timeout: 2500ms
            headers: { Authorization: "Bearer ${ORDERS_TOKEN}" }
            max_attempts: 5
            backoff: { base: 1s, max: 5m }
            concurrency: 16
        log: { level: debug, format: json }
        """

    @Test("the DESIGN §4 shape loads; durations parse; ${VAR} expands; defaults apply")
    func loads() async throws {
        let path = try write(Self.valid)
        let config = try await WorkerConfiguration.load(file: path, environment: ["DB_PASSWORD": "pw", "ORDERS_TOKEN": "tok"])
        #expect(config.databaseURL == "postgresql://app:pw@db.internal/app")
        #expect(config.node.concurrency == 100)
        #expect(config.node.lease == .seconds(20))
        #expect(config.node.heartbeat == .milliseconds(500))
        #expect(config.node.deadAfter == .seconds(10))
        #expect(config.node.shutdownGrace == .seconds(25))
        let target = try #require(config.targets["OrderClient"])
        #expect(target.protocol == .jsonrpc)
        #expect(target.timeout == .milliseconds(2500))
        #expect(target.maxAttempts == 5)
        #expect(target.backoff == Backoff(base: .seconds(1), max: .seconds(300)))
        #expect(target.concurrency == 16)
        #expect(target.headers["Authorization"] == "Bearer tok")
        #expect(config.logLevel == .debug)
    }

    @Test("ASYNCTASK_* environment variables override the file")
    func environmentOverrides() async throws {
        let path = try write(Self.valid)
        let config = try await WorkerConfiguration.load(
            file: path,
            environment: [
                "DB_PASSWORD": "pw", "ORDERS_TOKEN": "tok",
                "ASYNCTASK_DATABASE_URL": "postgresql://other/db", "ASYNCTASK_NODE_CONCURRENCY": "7",
                "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://override.internal/rpc",
            ])
        #expect(config.databaseURL == "postgresql://other/db")
        #expect(config.node.concurrency == 7)
        #expect(config.targets["OrderClient"]?.url == "http://override.internal/rpc")
    }

    @Test("a config from the environment alone (containers)")
    func environmentOnly() async throws {
        let config = try await WorkerConfiguration.load(
            file: nil,
            environment: [
                "ASYNCTASK_DATABASE_URL": "postgresql://db/app", "ASYNCTASK_TARGETS": "OrderClient",
                "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://orders/rpc",
            ])
        #expect(config.targets["OrderClient"]?.url == "http://orders/rpc")
    }

    @Test(
        "every kind of mistake is an error naming the key",
        arguments: [
            ("node: { concurrency: 10 }\ntargets: { A: { url: http://a } }", "database_url"),
            ("database_url: x\ntargets: {}", "targets"),
            ("database_url: x\nnode: { concurency: 10 }\ntargets: { A: { url: http://a } }", "node.concurency"),
            ("database_url: x\nnode: { concurrency: lots }\ntargets: { A: { url: http://a } }", "node.concurrency"),
            ("database_url: x\nnode: { concurrency: 0 }\ntargets: { A: { url: http://a } }", "node.concurrency"),
            ("database_url: x\nnode: { lease: 30 parsecs }\ntargets: { A: { url: http://a } }", "node.lease"),
            ("database_url: x\nnode: { heartbeat: 20s }\ntargets: { A: { url: http://a } }", "node.dead_after"),
            ("database_url: x\ntargets: { A: { url: ftp://a } }", "targets.A.url"),
            ("database_url: x\ntargets: { A: { url: http://a, protocol: soap } }", "targets.A.protocol"),
            ("database_url: x\ntargets: { A: { url: http://a, timeout: -1s } }", "targets.A.timeout"),
            ("database_url: x\ntargets: { A: { url: http://a, max_retry_duration: 0s } }", "targets.A.max_retry_duration"),
            ("database_url: x\ntargets: { A: { url: http://a, max_retry_duration: fast } }", "targets.A.max_retry_duration"),
            ("database_url: x\ntargets: { A: { url: http://a, rate: fast } }", "targets.A.rate"),
            ("database_url: x\ntargets: { A: { url: http://a, rate: 0/s } }", "targets.A.rate"),
            ("database_url: x\ntargets: { A: { url: http://a, rate: 10/s, burst: -1 } }", "targets.A.burst"),
            ("database_url: x\ntargets: { A: { url: http://a, burst: 5 } }", "targets.A.burst"),
            ("database_url: x\ntargets: { A: { url: http://a, global_concurrency: 0 } }", "targets.A.global_concurrency"),
            ("database_url: x\ntargets: { A: { url: http://a, ordering: { on_failure: later } } }", "targets.A.ordering.on_failure"),
            ("database_url: x\ntargets: { A: { url: http://a, ordering: { on_fail: block } } }", "targets.A.ordering.on_fail"),
            ("database_url: x\ntargets: { A: { url: 'http://${NOPE}/rpc' } }", "targets.A.url"),
            ("database_url: x\ntargets: { A: { url: http://a, headers: { Bad Header: v } } }", "targets.A.headers.Bad Header"),
            ("database_url: x\ntargets: { A: { url: http://a } }\nlog: { level: loud }", "log.level"),
            ("database_url: x\n  bad: [indent", "asynctask-config"),
            ("- just\n- a list", "asynctask-config"),
            ("database_url: x\ntargets: { A: { url: http://a } }\nwebhook: { url: http://h }", "webhook.secrets"),
            (
                "database_url: x\ntargets: { A: { url: http://a } }\nwebhook: { url: http://h, secret: 0123456789abcdef, events: [attempt.exploded] }",
                "webhook.events"
            ),
            ("database_url: x\ntargets: { '@webhook': { url: http://a } }", "targets.@webhook"),
        ])
    func mistakes(yaml: String, key: String) async throws {
        let path = try write(yaml)
        let error = await #expect(throws: ConfigurationError.self) {
            try await WorkerConfiguration.load(file: path, environment: [:])
        }
        #expect(error?.key.contains(key) == true, "\(String(describing: error))")
    }

    @Test("YAML text loads exactly as the same text in a file; errors about the text as a whole name its source")
    func loadsText() async throws {
        let environment = ["DB_PASSWORD": "pw", "ORDERS_TOKEN": "tok"]
        let fromFile = try await WorkerConfiguration.load(file: try write(Self.valid), environment: environment)
        let fromText = try WorkerConfiguration.load(yaml: Self.valid, environment: environment)
        #expect(fromText.databaseURL == fromFile.databaseURL)
        #expect(fromText.node.lease == fromFile.node.lease && fromText.node.heartbeat == fromFile.node.heartbeat)
        #expect(fromText.targets.keys.sorted() == fromFile.targets.keys.sorted())
        #expect(fromText.targets["OrderClient"]?.headers == fromFile.targets["OrderClient"]?.headers)
        #expect(fromText.targets["OrderClient"]?.timeout == .milliseconds(2500))
        let notMapping = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(yaml: "- a\n- b\n", source: "orders.yaml", environment: [:])
        }
        #expect(notMapping?.key == "orders.yaml")
        let unknown = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(yaml: "database_url: x\nnode: { concurency: 4 }\ntargets: { A: { url: http://a } }", environment: [:])
        }
        #expect(unknown?.key == "node.concurency")
    }

    @Test(
        "an unknown key names the nearest known key of its block",
        arguments: [
            ("database_url: x\nnode: { concurency: 4 }\ntargets: { A: { url: http://a } }", "node.concurency", "node.concurrency"),
            ("database_url: x\ntargets: { A: { url: http://a, timout: 2s } }", "targets.A.timout", "targets.A.timeout"),
            ("database_url: x\ntargets: { A: { url: http://a, tls: { ca_fil: /x } } }", "targets.A.tls.ca_fil", "targets.A.tls.ca_file"),
            ("database_url: x\ntargets: { A: { url: http://a } }\nwebhok: { url: http://h }", "webhok", "webhook"),
            ("database_url: x\ntargets: { A: { url: http://a } }\nretention: { intervall: 1m }", "retention.intervall", "retention.interval"),
        ])
    func unknownKeyHint(yaml: String, key: String, suggestion: String) throws {
        let error = #expect(throws: ConfigurationError.self) { try WorkerConfiguration.load(yaml: yaml, environment: [:]) }
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.reason.contains("unknown key; did you mean \(suggestion)?") == true, "\(String(describing: error))")
    }

    @Test("a list holding a mapping is an error naming its key")
    func nestedList() {
        let error = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(
                yaml: "database_url: x\ntargets: { A: { url: http://a } }\nwebhook: { url: http://h, secrets: [{ a: 1 }] }", environment: [:])
        }
        #expect(error?.key == "webhook.secrets", "\(String(describing: error))")
        #expect(error?.reason.contains("item 1 of the list") == true, "\(String(describing: error))")
    }

    @Test("the webhook block shares the target's call keys with its own defaults; a target's name may not hold a dot")
    func webhookCallKeys() throws {
        let config = try WorkerConfiguration.load(
            yaml: """
                database_url: x
                targets: { A: { url: http://a } }
                webhook:
                  url: http://hooks.internal/events
                  secret: 0123456789abcdef
                  timeout: 3s
                  backoff: { max: 5m }
                  headers: { X-Team: ops }
                """, environment: [:])
        let webhook = try #require(config.webhook)
        #expect(webhook.target.timeout == .seconds(3))
        #expect(webhook.target.backoff == Backoff(base: .seconds(1), max: .seconds(300)))
        #expect(webhook.target.maxAttempts == 100 && webhook.target.concurrency == 16)
        #expect(webhook.target.headers["X-Team"] == "ops")
        let dotted = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(yaml: "database_url: x\ntargets: { \"a.b\": { url: http://a } }", environment: [:])
        }
        #expect(dotted?.key == "targets.a.b", "\(String(describing: dotted))")
    }

    // Found by Fuzz/FuzzConfig: an empty key name (here an anchor on an empty key) gave an error whose key was "".
    @Test(
        "an empty key name is an error that still names where it is",
        arguments: [
            ("&-a: 25\n", "(top level)"),
            ("\"\": 1\n", "(top level)"),
            ("database_url: x\nnode: { \"\": 4 }\ntargets: { A: { url: http://a } }", "node"),
            ("? [a, b]\n: 1\n", "(top level)"),
        ])
    func emptyKeyNames(yaml: String, key: String) throws {
        let error = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(yaml: yaml, environment: [:])
        }
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.reason == "keys must be non-empty strings")
    }

    static let key1 = Data(repeating: 1, count: 32).base64EncodedString()
    static let key2 = Data(repeating: 2, count: 32).base64EncodedString()

    @Test("encryption keys load from the file with ${VAR}, from the environment alone, and only the key ring for the CLI")
    func encryptionKeys() async throws {
        let path = try write(
            """
            database_url: x
            targets: { A: { url: http://a } }
            encryption: { primary: k2, keys: { k1: "${K1}", k2: "${K2}" } }
            """)
        let config = try await WorkerConfiguration.load(file: path, environment: ["K1": Self.key1, "K2": Self.key2])
        #expect(config.encryption?.primaryID == "k2")
        #expect(config.encryption?.keyIDs == ["k1", "k2"])
        #expect(config.encryptor.id == "aes-256-gcm:k2")
        let ring = try await WorkerConfiguration.loadKeyRing(file: path, environment: ["K1": Self.key1, "K2": Self.key2])
        #expect(ring?.keyIDs == ["k1", "k2"])
        let fromEnvironment = try await WorkerConfiguration.loadKeyRing(
            file: nil,
            environment: [
                "ASYNCTASK_ENCRYPTION_PRIMARY": "k1", "ASYNCTASK_ENCRYPTION_KEY_IDS": "k1", "ASYNCTASK_ENCRYPTION_KEYS_K1": Self.key1,
            ])
        #expect(fromEnvironment?.primaryID == "k1")
        #expect(
            try await WorkerConfiguration.load(file: try write("database_url: x\ntargets: { A: { url: http://a } }"), environment: [:]).encryption
                == nil)
    }

    @Test(
        "encryption mistakes name the key, never its value",
        arguments: [
            ("encryption: { primary: k2, keys: { k2: \"c2hvcnQ=\" } }", "encryption.keys.k2", "c2hvcnQ="),
            ("encryption: { primary: k2, keys: { k2: \"not-base64!\" } }", "encryption.keys.k2", "not-base64!"),
            ("encryption: { primary: k2, keys: { k2: \"${MISSING_KEY}\" } }", "encryption.keys.k2", "MISSING_KEY_VALUE"),
            ("encryption: { primary: k3, keys: { k2: \"\(key2)\" } }", "encryption.primary", key2),
            ("encryption: { keys: { k2: \"\(key2)\" } }", "encryption.primary", key2),
            ("encryption: { primary: k2 }", "encryption.keys", "-"),
            ("encryption: { primary: k2, keys: { \"k:2\": \"\(key2)\" } }", "encryption.keys.k:2", key2),
            ("encryption: { primary: k2, key: { k2: \"\(key2)\" } }", "encryption.key", key2),
        ])
    func encryptionMistakes(yaml: String, key: String, value: String) async throws {
        let path = try write("database_url: x\ntargets: { A: { url: http://a } }\n" + yaml)
        let error = await #expect(throws: ConfigurationError.self) {
            try await WorkerConfiguration.load(file: path, environment: [:])
        }
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.description.contains(value) == false)
    }
}
