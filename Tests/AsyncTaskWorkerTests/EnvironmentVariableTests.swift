import AsyncTaskTargets
import AsyncTaskWorker
import Foundation
import Testing

@Suite("ASYNCTASK_* variables: every one must name a key; typos are errors with the nearest name")
struct EnvironmentVariableTests {
    static let yaml = """
        database_url: postgresql://db/app
        targets:
          OrderClient:
            url: http://orders.internal/rpc
            headers: { Authorization: "Bearer ${ASYNCTASK_ORDERS_TOKEN}" }
        webhook: { url: http://hooks.internal/x, secret: "0123456789abcdef0123", headers: { Authorization: "Bearer w" } }
        encryption: { primary: k1, keys: { k1: "${K1}" } }
        """
    static let k1 = Data(repeating: 7, count: 32).base64EncodedString()

    func load(_ environment: [String: String]) throws(ConfigurationError) -> WorkerConfiguration {
        try WorkerConfiguration.load(yaml: Self.yaml, environment: environment.merging(["K1": Self.k1, "ASYNCTASK_ORDERS_TOKEN": "tok"]) { $1 })
    }

    @Test(
        "a misspelled variable is an error naming it and the nearest known name",
        arguments: [
            ("ASYNCTASK_NODE_CONCURENCY", "ASYNCTASK_NODE_CONCURRENCY"),
            ("ASYNCTASK_TARGETS_ORDER_CLIENT_TIMOUT", "ASYNCTASK_TARGETS_ORDER_CLIENT_TIMEOUT"),
            ("ASYNCTASK_TARGETS_ORDERCLIENTS_URL", "ASYNCTASK_TARGETS_ORDERCLIENT_URL"),
            ("ASYNCTASK_WEBHOOK_SECRTS", "ASYNCTASK_WEBHOOK_SECRETS"),
            ("ASYNCTASK_ENCRYPTION_KEYS_K2", "ASYNCTASK_ENCRYPTION_KEYS_K1"),
            ("ASYNCTASK_RETENTION_SUCEEDED", "ASYNCTASK_RETENTION_SUCCEEDED"),
        ])
    func typo(name: String, suggestion: String) {
        let error = #expect(throws: ConfigurationError.self) { try load([name: "5"]) }
        #expect(error?.key == name)
        #expect(error?.description.contains("did you mean \(suggestion)?") == true, "\(String(describing: error))")
    }

    @Test("variables of undeclared targets and new headers are errors that explain the rule")
    func targetRule() {
        let undeclared = #expect(throws: ConfigurationError.self) { try load(["ASYNCTASK_TARGETS_BILLING_URL": "http://b"]) }
        #expect(undeclared?.description.contains("declared: OrderClient") == true, "\(String(describing: undeclared))")
        #expect(undeclared?.description.contains("ORDER_CLIENT or ORDERCLIENT") == true)
        let header = #expect(throws: ConfigurationError.self) { try load(["ASYNCTASK_TARGETS_ORDER_CLIENT_HEADERS_X_EXTRA": "1"]) }
        #expect(header?.description.contains("headers can be overridden, not added") == true)
    }

    @Test("the CamelCase split and unsplit spellings both work; both set differently is an error")
    func camelCase() throws {
        #expect(try load(["ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://split/rpc"]).targets["OrderClient"]?.url == "http://split/rpc")
        #expect(try load(["ASYNCTASK_TARGETS_ORDERCLIENT_URL": "http://unsplit/rpc"]).targets["OrderClient"]?.url == "http://unsplit/rpc")
        #expect(try load(["ASYNCTASK_TARGETS_ORDERCLIENT_CONCURRENCY": "3"]).targets["OrderClient"]?.concurrency == 3)
        #expect(try load(["ASYNCTASK_TARGETS_ORDER_CLIENT_HEADERS_AUTHORIZATION": "Bearer x"]).targets["OrderClient"] != nil)
        let both = #expect(throws: ConfigurationError.self) {
            try load(["ASYNCTASK_TARGETS_ORDERCLIENT_URL": "http://a/rpc", "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://b/rpc"])
        }
        #expect(both?.key == "ASYNCTASK_TARGETS_ORDERCLIENT_URL")
    }

    @Test("every documented key's variable, the tools' own variables and ${ASYNCTASK_…} references are accepted")
    func known() throws {
        var environment: [String: String] = [:]
        for name in WorkerConfiguration.nonConfigurationVariables where name != "ASYNCTASK_TARGETS" && name != "ASYNCTASK_ENCRYPTION_KEY_IDS" {
            environment[name] = "x"
        }
        environment["ASYNCTASK_NODE_CONCURRENCY"] = "9"
        environment["ASYNCTASK_DATABASE_URL"] = "postgresql://other/app"
        let config = try load(environment)
        #expect(config.node.concurrency == 9)
        #expect(config.databaseURL == "postgresql://other/app")
        // The environment-name rule is swift-configuration's: a key set through the computed name takes effect.
        for key in ["node.max_buffered_outcomes", "targets.OrderClient.max_response_bytes", "retention.interval"] {
            let name = WorkerConfiguration.environmentName(forKey: key)
            let value = key.hasPrefix("retention") ? "5s" : "4096"
            let loaded = try load([name: value])
            switch key {
            case "node.max_buffered_outcomes": #expect(loaded.node.maxBufferedOutcomes == 4096, "\(name)")
            case "retention.interval": #expect(loaded.retention.interval == .seconds(5), "\(name)")
            default: #expect(loaded.targets["OrderClient"]?.maxResponseBytes == 4096, "\(name)")
            }
        }
    }

    @Test("each key of the key table is overridden by its documented variable, placeholders filled with this file's names")
    func everyKeyHasItsVariable() {
        let names = ["<name>": "ORDER_CLIENT", "<header>": "AUTHORIZATION", "<id>": "K1"]
        for key in WorkerConfiguration.configurationKeys {
            var variable = key.environmentVariable
            for (placeholder, name) in names { variable = variable.replacingOccurrences(of: placeholder.uppercased(), with: name) }
            // A value of the wrong type is fine here: the error must be about the value, not an unknown variable.
            do {
                _ = try load([variable: "x"])
            } catch {
                #expect(error.key != variable, "\(key.path): \(error)")
            }
        }
    }
}
