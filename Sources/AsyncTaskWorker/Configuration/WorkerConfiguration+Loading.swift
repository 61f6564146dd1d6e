public import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Configuration
public import Foundation
import Logging
import Yams

extension WorkerConfiguration {
    /// The environment variable prefix: `ASYNCTASK_NODE_CONCURRENCY` overrides `node.concurrency`.
    public static let environmentPrefix = "ASYNCTASK_"

    /// Every key a config file may hold (`*` stands for a target or header name). A key outside this list is
    /// an error, so a typo (`node.concurency`) never silently falls back to a default.
    public static let knownKeys: [String] = [
        "database_url", "database.pool_size",
        "node.id", "node.hostname", "node.concurrency", "node.lease", "node.heartbeat", "node.dead_after",
        "node.poll_interval", "node.shutdown_grace", "node.claim_batch", "node.claimers", "node.flush_interval", "node.flush_batch",
        "node.max_buffered_outcomes", "node.prefetch",
        "targets.*.url", "targets.*.protocol", "targets.*.timeout", "targets.*.connect_timeout", "targets.*.headers.*",
        "targets.*.max_attempts", "targets.*.backoff.base", "targets.*.backoff.max", "targets.*.concurrency",
        "targets.*.tls.ca_file", "targets.*.tls.cert_file", "targets.*.tls.key_file", "targets.*.tls.insecure_skip_verify",
        "targets.*.max_response_bytes", "targets.*.batch.max", "targets.*.batch.linger",
        "webhook.url", "webhook.secret", "webhook.secrets", "webhook.events", "webhook.include_args", "webhook.timeout",
        "webhook.max_attempts", "webhook.backoff.base", "webhook.backoff.max", "webhook.concurrency", "webhook.headers.*",
        "webhook.tls.ca_file", "webhook.tls.cert_file", "webhook.tls.key_file", "webhook.tls.insecure_skip_verify",
        "encryption.primary", "encryption.keys.*",
        "log.level", "log.format",
        "admin.listen", "admin.token", "admin.read_token",
        "retention.succeeded", "retention.failed", "retention.interval",
    ]

    /// Reads and validates the configuration: the YAML `file` (optional) overridden by `ASYNCTASK_*` variables
    /// in `environment`; `${VAR}` in values is expanded from `environment`.
    /// - Throws: `ConfigurationError` naming the first bad key.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(ConfigurationError) -> WorkerConfiguration {
        try load(text: try file.map(readFile), source: file ?? "", environment: environment)
    }

    /// Reads and validates the configuration from YAML `text`, exactly as `load(file:environment:)` reads a file
    /// holding it (that one reads the file and calls this). `source` stands for the file path in errors about the
    /// text as a whole (not YAML, top level not a mapping).
    /// - Throws: `ConfigurationError` naming the first bad key.
    public static func load(yaml text: String, source: String = "<config>", environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> WorkerConfiguration {
        try load(text: text, source: source, environment: environment)
    }

    /// `text` nil: the environment alone.
    private static func load(text: String?, source: String, environment: [String: String]) throws(ConfigurationError) -> WorkerConfiguration {
        let (values, tree) = try reader(text: text, source: source, environment: environment)

        guard let databaseURL = try values.string("database_url", secret: true) else {
            throw ConfigurationError(key: "database_url", reason: "is required (set it in the file or as ASYNCTASK_DATABASE_URL)")
        }
        let defaults = Node()
        var node = Node()
        if let id = try values.string("node.id") {
            guard let uuid = UUID(uuidString: id) else { throw ConfigurationError(key: "node.id", reason: "'\(id)' is not a UUID: node ids are UUIDs (e.g. 3f2b9c1e-8a4d-4c6e-9b1a-2d5e7f9a0c3b, as `uuidgen` prints); leave node.id unset for a random one per process") }
            node.id = uuid
        }
        node.hostname = try values.string("node.hostname") ?? defaults.hostname
        node.concurrency = try values.int("node.concurrency", default: defaults.concurrency, in: 1...100_000)
        node.lease = try values.duration("node.lease", default: defaults.lease, minimum: .seconds(1))
        node.heartbeat = try values.duration("node.heartbeat", default: defaults.heartbeat, minimum: .milliseconds(50))
        node.deadAfter = try values.duration("node.dead_after", default: defaults.deadAfter, minimum: .milliseconds(200))
        node.pollInterval = try values.duration("node.poll_interval", default: defaults.pollInterval, minimum: .milliseconds(10))
        node.shutdownGrace = try values.duration("node.shutdown_grace", default: defaults.shutdownGrace, minimum: .zero)
        node.claimBatch = try values.int("node.claim_batch", default: defaults.claimBatch, in: 1...10_000)
        node.claimers = try values.int("node.claimers", default: defaults.claimers, in: 1...16)
        node.flushInterval = try values.duration("node.flush_interval", default: defaults.flushInterval, minimum: .zero)
        node.flushBatch = try values.int("node.flush_batch", default: defaults.flushBatch, in: 1...50_000)
        node.maxBufferedOutcomes = try values.int("node.max_buffered_outcomes", default: defaults.maxBufferedOutcomes, in: 1...10_000_000)
        node.prefetch = try values.int("node.prefetch", default: defaults.prefetch, in: 0...100_000)
        guard node.heartbeat < node.deadAfter else {
            throw ConfigurationError(key: "node.dead_after", reason: "must be longer than node.heartbeat (\(node.heartbeat))")
        }
        guard node.heartbeat * 2 <= node.lease else {
            throw ConfigurationError(key: "node.lease", reason: "must be at least twice node.heartbeat (\(node.heartbeat)) so leases are renewed in time")
        }

        var targetNames = Set(tree?.mapping?["targets"]?.mapping?.keys.compactMap(\.string) ?? [])
        targetNames.formUnion(listed(environment[environmentPrefix + "TARGETS"]))
        guard !targetNames.isEmpty else {
            throw ConfigurationError(key: "targets", reason: "no target configured: a node needs at least one target to serve")
        }
        var targets: [String: TargetConfiguration] = [:]
        for name in targetNames.sorted() {
            let prefix = "targets.\(name)"
            guard !name.hasPrefix("@") else {
                throw ConfigurationError(key: prefix, reason: "target names starting with '@' are reserved (\(Schema.webhookTarget) delivers webhook events)")
            }
            var headers: [String: String] = [:]
            for header in tree?.mapping?["targets"]?.mapping?[name]?.mapping?["headers"]?.mapping?.keys.compactMap(\.string) ?? [] {
                headers[header] = try values.raw("\(prefix).headers.\(header)", secret: true)
            }
            let raw = RawTargetConfiguration(
                url: try values.raw("\(prefix).url"),
                protocol: try values.raw("\(prefix).protocol"),
                timeout: try values.raw("\(prefix).timeout"),
                connectTimeout: try values.raw("\(prefix).connect_timeout"),
                headers: headers,
                maxAttempts: try values.optionalInt("\(prefix).max_attempts"),
                backoff: .init(base: try values.raw("\(prefix).backoff.base"), max: try values.raw("\(prefix).backoff.max")),
                concurrency: try values.optionalInt("\(prefix).concurrency"),
                tls: .init(
                    caFile: try values.raw("\(prefix).tls.ca_file"), certFile: try values.raw("\(prefix).tls.cert_file"),
                    keyFile: try values.raw("\(prefix).tls.key_file"), insecureSkipVerify: try values.bool("\(prefix).tls.insecure_skip_verify")),
                maxResponseBytes: try values.optionalInt("\(prefix).max_response_bytes"),
                batch: try batchBlock(prefix, given: tree?.mapping?["targets"]?.mapping?[name]?.mapping?["batch"] != nil, values))
            do {
                targets[name] = try TargetConfiguration(name: name, raw: raw, environment: environment)
            } catch {
                throw ConfigurationError(key: "\(prefix).\(error.field)", reason: error.reason)
            }
        }

        let webhook = try loadWebhook(values, tree: tree, environment: environment)

        let levelText = try values.string("log.level") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(key: "log.level", reason: "'\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        let formatText = try values.string("log.format") ?? "auto"
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ConfigurationError(key: "log.format", reason: "'\(formatText)' is not one of auto, json, text")
        }
        let poolSize = try values.int("database.pool_size", default: 8, in: 2...200)
        let encryption = try keyRing(values, tree: tree, environment: environment)
        var admin = Admin()
        if let listen = try values.string("admin.listen") {
            if listen.lowercased() == "off" {
                admin.enabled = false
            } else {
                (admin.host, admin.port) = try parseListen(listen)
            }
        }
        // Both admin tokens are secrets an attacker may try to guess: at least 16 characters.
        func token(_ key: String) throws(ConfigurationError) -> String? {
            guard let token = try values.string(key, secret: true), !token.isEmpty else { return nil }
            guard token.count >= 16 else {
                throw ConfigurationError(key: key, reason: "is too short (\(token.count) characters): use at least 16 random characters")
            }
            return token
        }
        admin.token = try token("admin.token")
        admin.readToken = try token("admin.read_token")
        let retentionDefaults = Retention()
        let retention = Retention(
            succeeded: try values.duration("retention.succeeded", default: retentionDefaults.succeeded, minimum: .seconds(1)),
            failed: try values.duration("retention.failed", default: retentionDefaults.failed, minimum: .seconds(1)),
            interval: try values.duration("retention.interval", default: retentionDefaults.interval, minimum: .milliseconds(100)))
        return WorkerConfiguration(
            databaseURL: databaseURL, databasePoolSize: poolSize, node: node, targets: targets, webhook: webhook,
            encryption: encryption, admin: admin, retention: retention, logLevel: level, logFormat: format)
    }

    /// The `webhook` block: nil when `webhook.url` is not set.
    private static func loadWebhook(_ values: ConfigValues, tree: Yams.Node?, environment: [String: String]) throws(ConfigurationError) -> WebhookConfiguration? {
        guard let url = try values.raw("webhook.url") else {
            if tree?.mapping?["webhook"] != nil { throw ConfigurationError(key: "webhook.url", reason: "is required when a webhook block is given") }
            return nil
        }
        var headers: [String: String] = [:]
        for header in tree?.mapping?["webhook"]?.mapping?["headers"]?.mapping?.keys.compactMap(\.string) ?? [] {
            headers[header] = try values.raw("webhook.headers.\(header)", secret: true)
        }
        let raw = RawTargetConfiguration(
            url: url, protocol: "http", timeout: try values.raw("webhook.timeout"), connectTimeout: nil, headers: headers,
            maxAttempts: try values.optionalInt("webhook.max_attempts") ?? 100,
            backoff: .init(base: try values.raw("webhook.backoff.base") ?? "1s", max: try values.raw("webhook.backoff.max") ?? "1m"),
            concurrency: try values.optionalInt("webhook.concurrency") ?? 16,
            tls: .init(
                caFile: try values.raw("webhook.tls.ca_file"), certFile: try values.raw("webhook.tls.cert_file"),
                keyFile: try values.raw("webhook.tls.key_file"), insecureSkipVerify: try values.bool("webhook.tls.insecure_skip_verify")),
            maxResponseBytes: nil)
        let target: TargetConfiguration
        do {
            target = try TargetConfiguration(name: Schema.webhookTarget, raw: raw, environment: environment)
        } catch {
            throw ConfigurationError(key: "webhook.\(error.field)", reason: error.reason)
        }
        var secrets = try values.stringList("webhook.secrets", secret: true) ?? []
        if let single = try values.string("webhook.secret", secret: true) { secrets.insert(single, at: 0) }
        guard !secrets.isEmpty, secrets.allSatisfy({ $0.utf8.count >= 16 }) else {
            throw ConfigurationError(key: "webhook.secrets", reason: "give at least one signing secret of 16 or more bytes (webhook.secret or webhook.secrets)")
        }
        var events = Set(WebhookConfiguration.Event.allCases)
        if let names = try values.stringList("webhook.events") {
            events = []
            for name in names {
                guard let event = WebhookConfiguration.Event(rawValue: name) else {
                    throw ConfigurationError(key: "webhook.events", reason: "'\(name)' is not one of \(WebhookConfiguration.Event.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                events.insert(event)
            }
        }
        return WebhookConfiguration(target: target, secrets: secrets, events: events, includeArgs: try values.bool("webhook.include_args") ?? false)
    }

    /// Reads only the encryption keys (`encryption.primary`, `encryption.keys.<id>`) of a config file and the
    /// `ASYNCTASK_*` overrides, for producers and operators (`asynctask enqueue --config`, `asynctask keys rotate`)
    /// that need the keys but not a whole node's settings. Unknown keys in the file are still rejected.
    /// - Returns: nil when no keys are configured.
    /// - Throws: `ConfigurationError` naming the bad key, e.g. `encryption.keys.k2` (never the key's value).
    public static func loadKeyRing(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(ConfigurationError) -> KeyRing? {
        let (values, tree) = try reader(text: try file.map(readFile), source: file ?? "", environment: environment)
        return try keyRing(values, tree: tree, environment: environment)
    }

    /// The text of a config file.
    /// A target's `batch` block: present when the file has it (even `batch: {}`) or the environment sets one of its keys.
    private static func batchBlock(_ prefix: String, given: Bool, _ values: ConfigValues) throws(ConfigurationError) -> RawTargetConfiguration.RawBatch? {
        let max = try values.optionalInt("\(prefix).batch.max")
        let linger = try values.raw("\(prefix).batch.linger")
        guard given || max != nil || linger != nil else { return nil }
        return .init(max: max, linger: linger)
    }

    private static func readFile(_ file: String) throws(ConfigurationError) -> String {
        do {
            return try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: file, reason: "cannot read the config file: \(error.localizedDescription)")
        }
    }

    /// The YAML `text` (optional; `source` names it in errors) under `ASYNCTASK_*` variables, with its tree for
    /// enumerating names.
    private static func reader(text: String?, source: String, environment: [String: String]) throws(ConfigurationError) -> (ConfigValues, Yams.Node?) {
        var providers: [any ConfigProvider] = []
        var tree: Yams.Node?
        if let text {
            do {
                tree = try Yams.compose(yaml: text)
            } catch {
                // Position and problem only: Yams' description quotes the file, secrets included.
                throw ConfigurationError(key: source, reason: "not valid YAML: \(YAMLErrorSummary.describe(error) ?? "unparseable")")
            }
            guard let tree else {
                throw ConfigurationError(key: source, reason: "the file is empty (expected keys such as database_url and targets)")
            }
            guard tree.mapping != nil else { throw ConfigurationError(key: source, reason: "the top level must be a mapping of keys") }
            try checkKeys(tree, path: [])
        }
        // Environment first: it wins over the file. Every ASYNCTASK_* variable must name a key (or be one the
        // tools read), so the file's tree is needed to know its targets, headers and key ids.
        let prefixed = try environmentOverrides(environment, tree: tree, fileText: text)
        providers.append(EnvironmentVariablesProvider(environmentVariables: prefixed, secretsSpecifier: .specific(["DATABASE_URL", "ADMIN_TOKEN"])))
        if let text {
            do {
                providers.append(try YAMLTextProvider(text: text, source: source))
            } catch {
                throw ConfigurationError(key: source, reason: "cannot load: \(YAMLErrorSummary.describe(error) ?? "\(error)")")
            }
        }
        return (ConfigValues(reader: ConfigReader(providers: providers), environment: environment), tree)
    }

    /// The key ring from `encryption.*`. Key ids are the names under `encryption.keys` in the file, plus any
    /// listed in `ASYNCTASK_ENCRYPTION_KEY_IDS` (comma-separated) for environment-only setups.
    private static func keyRing(_ values: ConfigValues, tree: Yams.Node?, environment: [String: String]) throws(ConfigurationError) -> KeyRing? {
        var ids = Set(tree?.mapping?["encryption"]?.mapping?["keys"]?.mapping?.keys.compactMap(\.string) ?? [])
        ids.formUnion(listed(environment[environmentPrefix + "ENCRYPTION_KEY_IDS"]))
        let primary = try values.string("encryption.primary")
        guard !ids.isEmpty else {
            if primary != nil { throw ConfigurationError(key: "encryption.keys", reason: "encryption.primary is set but no keys are configured") }
            return nil
        }
        guard let primary, !primary.isEmpty else {
            throw ConfigurationError(key: "encryption.primary", reason: "is required when encryption.keys are configured (the key id new rows are encrypted with)")
        }
        var texts: [String: String] = [:]
        for id in ids.sorted() {
            let key = "encryption.keys.\(id)"
            do {
                try KeyRing.validate(id: id)
            } catch {
                throw ConfigurationError(key: key, reason: error.reason)
            }
            guard let text = try values.string(key, secret: true) else {
                throw ConfigurationError(key: key, reason: "has no value (expected base64 of 32 bytes, e.g. \"${SOME_VARIABLE}\")")
            }
            texts[id] = text
        }
        do {
            return try KeyRing(primary: primary, base64Keys: texts)
        } catch {
            throw ConfigurationError(key: error.keyID.map { "encryption.keys.\($0)" } ?? "encryption.primary", reason: error.reason)
        }
    }

    /// `host:port` or `[v6]:port`.
    static func parseListen(_ text: String) throws(ConfigurationError) -> (String, Int) {
        let reason = "'\(text)' is not host:port (e.g. 127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090) or off"
        guard let colon = text.lastIndex(of: ":") else { throw ConfigurationError(key: "admin.listen", reason: reason) }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ConfigurationError(key: "admin.listen", reason: reason)
        }
        return (host, port)
    }

    /// Rejects keys the configuration does not know, naming the first one.
    private static func checkKeys(_ node: Yams.Node, path: [String]) throws(ConfigurationError) {
        guard let mapping = node.mapping else {
            let key = path.joined(separator: ".")
            guard knownKeys.contains(where: { matches(pattern: $0, key: key) }) else {
                throw ConfigurationError(key: key, reason: "unknown key (known keys are listed in the README's configuration reference)")
            }
            return
        }
        for (name, child) in mapping {
            // An empty name (`"": 1`, or `&a: 1`, an anchor on an empty key) would make an error name no key at all.
            guard let name = name.string, !name.isEmpty else {
                throw ConfigurationError(key: path.isEmpty ? "(top level)" : path.joined(separator: "."), reason: "keys must be non-empty strings")
            }
            let childPath = path + [name]
            let key = childPath.joined(separator: ".")
            // A mapping is fine when some known key continues below it.
            if child.mapping != nil {
                guard knownKeys.contains(where: { matchesPrefix(pattern: $0, key: key) }) else {
                    throw ConfigurationError(key: key, reason: "unknown key (known keys are listed in the README's configuration reference)")
                }
            }
            try checkKeys(child, path: childPath)
        }
    }

    private static func matches(pattern: String, key: String) -> Bool {
        let p = pattern.split(separator: "."), k = key.split(separator: ".", omittingEmptySubsequences: false)
        return p.count == k.count && zip(p, k).allSatisfy { $0 == "*" || $0 == $1 }
    }

    private static func matchesPrefix(pattern: String, key: String) -> Bool {
        let p = pattern.split(separator: "."), k = key.split(separator: ".", omittingEmptySubsequences: false)
        return p.count > k.count && zip(p, k).allSatisfy { $0 == "*" || $0 == $1 }
    }
}

/// Reads typed values through swift-configuration, with errors that name the key. Values are read as text and
/// parsed here so a malformed value is an error, never a silent default.
struct ConfigValues {
    let reader: ConfigReader
    let environment: [String: String]

    /// The value as written, `${VAR}` not expanded (targets expand their own).
    func raw(_ key: String, secret: Bool = false) throws(ConfigurationError) -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: secret)
    }

    /// The value with `${VAR}` expanded.
    func string(_ key: String, secret: Bool = false) throws(ConfigurationError) -> String? {
        guard let text = try raw(key, secret: secret) else { return nil }
        do {
            return try EnvironmentExpansion.expand(text, environment: environment)
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
    }

    /// A list: a YAML sequence, or comma-separated text (environment variables).
    func stringList(_ key: String, secret: Bool = false) throws(ConfigurationError) -> [String]? {
        let items: [String]
        if let array = reader.stringArray(forKey: ConfigKey(key), isSecret: secret) {
            items = array
        } else if let text = reader.string(forKey: ConfigKey(key), isSecret: secret) {
            items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            return nil
        }
        do {
            return try items.map { item throws(EnvironmentExpansion.Error) in try EnvironmentExpansion.expand(item, environment: environment) }.filter { !$0.isEmpty }
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
    }

    func optionalInt(_ key: String) throws(ConfigurationError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: key, reason: "'\(text)' is not a whole number")
        }
        return value
    }

    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = try optionalInt(key) else { return defaultValue }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, reason: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigurationError(key: key, reason: "'\(text)' is not true or false")
        }
    }

    func duration(_ key: String, default defaultValue: Duration, minimum: Duration) throws(ConfigurationError) -> Duration {
        guard let text = try string(key) else { return defaultValue }
        let value: Duration
        do {
            value = try DurationParser.parse(text)
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
        guard value >= minimum else { throw ConfigurationError(key: key, reason: "must be at least \(minimum) (got \(text))") }
        return value
    }
}
