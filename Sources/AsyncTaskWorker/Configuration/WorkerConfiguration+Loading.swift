public import AsyncTask
import AsyncTaskTargets
import Configuration
public import Foundation

extension WorkerConfiguration {
    /// The environment variable prefix: `ASYNCTASK_NODE_CONCURRENCY` overrides `node.concurrency`.
    public static let environmentPrefix = "ASYNCTASK_"

    /// Reads and validates the configuration: the YAML `file` (optional) overridden by `ASYNCTASK_*` variables
    /// in `environment`; `${VAR}` in values is expanded from `environment`.
    /// - Throws: `ConfigurationError` naming the first bad key.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(ConfigurationError)
        -> WorkerConfiguration
    {
        try load(text: try file.map(readFile), source: file ?? "", environment: environment)
    }

    /// Reads and validates the configuration from YAML `text`, exactly as `load(file:environment:)` reads a file
    /// holding it (that one reads the file and calls this). `source` stands for the file path in errors about the
    /// text as a whole (not YAML, top level not a mapping).
    /// - Throws: `ConfigurationError` naming the first bad key.
    public static func load(yaml text: String, source: String = "<config>", environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> WorkerConfiguration
    {
        try load(text: text, source: source, environment: environment)
    }

    /// `text` nil: the environment alone. Reads the key table's blocks into the defaults, each key checked as
    /// its entry says, then what spans keys (heartbeat against lease, a webhook's secrets).
    private static func load(text: String?, source: String, environment: [String: String]) throws(ConfigurationError) -> WorkerConfiguration {
        let (values, names) = try reader(text: text, source: source, environment: environment)
        var configuration = WorkerConfiguration.defaults
        try read(databaseSettings + nodeSettings, into: &configuration, values, names)
        let node = configuration.node
        guard node.heartbeat < node.deadAfter else {
            throw ConfigurationError(key: "node.dead_after", reason: "must be longer than node.heartbeat (\(node.heartbeat))")
        }
        guard node.heartbeat * 2 <= node.lease else {
            throw ConfigurationError(
                key: "node.lease", reason: "must be at least twice node.heartbeat (\(node.heartbeat)) so leases are renewed in time")
        }
        configuration.targets = try targets(values, names)
        configuration.webhook = try webhook(values, names)
        try read(logSettings, into: &configuration, values, names)
        configuration.encryption = try keyRing(values, names)
        try read(adminSettings + retentionSettings, into: &configuration, values, names)
        return configuration
    }

    /// Reads `settings` into `section`, each key at every path its placeholders stand for (`prefix` fixing the
    /// first components: one target's block).
    private static func read<Section>(
        _ settings: [ConfigurationSetting<Section>], prefix: [String] = [], into section: inout Section, _ values: ConfigValues,
        _ names: ConfigurationSource
    ) throws(ConfigurationError) {
        for setting in settings {
            for path in names.expand(setting.key.components, prefix: prefix) { try setting.read(values, path, &section) }
        }
    }

    /// The `targets` block: at least one, declared in the file or in `ASYNCTASK_TARGETS`.
    private static func targets(_ values: ConfigValues, _ names: ConfigurationSource) throws(ConfigurationError) -> [String: TargetConfiguration] {
        let targetNames = names.names(at: ["targets"], pattern: ["targets"])
        guard !targetNames.isEmpty else {
            throw ConfigurationError(key: "targets", reason: "no target configured: a node needs at least one target to serve")
        }
        var targets: [String: TargetConfiguration] = [:]
        for name in targetNames {
            let prefix = "targets.\(name)"
            guard !name.hasPrefix("@") else {
                throw ConfigurationError(
                    key: prefix, reason: "target names starting with '@' are reserved (\(Schema.webhookTarget) delivers webhook events)")
            }
            var raw = RawTargetConfiguration()
            // A `batch` block, even `batch: {}`, turns batching on (so does a variable setting one of its keys).
            if names.file?.node(at: ["targets", name, "batch"]) != nil { raw.batch = .init() }
            try read(CallBlock.target.settings + targetSettings, prefix: ["targets", name], into: &raw, values, names)
            do {
                targets[name] = try TargetConfiguration(name: name, raw: raw, environment: values.environment)
            } catch {
                throw ConfigurationError(key: "\(prefix).\(error.field)", reason: error.reason)
            }
        }
        return targets
    }

    /// The `webhook` block: nil when `webhook.url` is not set.
    private static func webhook(_ values: ConfigValues, _ names: ConfigurationSource) throws(ConfigurationError) -> WebhookConfiguration? {
        var raw = RawTargetConfiguration()
        try read(CallBlock.webhook.settings, into: &raw, values, names)
        guard raw.url != nil else {
            if names.file?.node(at: ["webhook"]) != nil {
                throw ConfigurationError(key: "webhook.url", reason: "is required when a webhook block is given")
            }
            return nil
        }
        let target: TargetConfiguration
        do {
            target = try TargetConfiguration(
                name: Schema.webhookTarget, raw: raw, environment: values.environment, defaults: CallBlock.webhook.defaults)
        } catch {
            throw ConfigurationError(key: "webhook.\(error.field)", reason: error.reason)
        }
        var options = RawWebhookOptions.defaults
        try read(webhookSettings, into: &options, values, names)
        let secrets = (options.secret.map { [$0] } ?? []) + options.secrets
        guard !secrets.isEmpty, secrets.allSatisfy({ $0.utf8.count >= minimumTokenLength }) else {
            throw ConfigurationError(
                key: "webhook.secrets",
                reason: "give at least one signing secret of \(minimumTokenLength) or more bytes (webhook.secret or webhook.secrets)")
        }
        return WebhookConfiguration(target: target, secrets: secrets, events: options.events, includeArgs: options.includeArgs ?? false)
    }

    /// Reads only the encryption keys (`encryption.primary`, `encryption.keys.<id>`) of a config file and the
    /// `ASYNCTASK_*` overrides, for producers and operators (`asynctask enqueue --config`, `asynctask keys rotate`)
    /// that need the keys but not a whole node's settings. Unknown keys in the file are still rejected.
    /// - Returns: nil when no keys are configured.
    /// - Throws: `ConfigurationError` naming the bad key, e.g. `encryption.keys.k2` (never the key's value).
    public static func loadKeyRing(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws(ConfigurationError) -> KeyRing?
    {
        let (values, names) = try reader(text: try file.map(readFile), source: file ?? "", environment: environment)
        return try keyRing(values, names)
    }

    /// Reads only the `node.*` keys of a config file and the `ASYNCTASK_*` overrides, for commands that judge
    /// the nodes as the nodes do (`node.dead_after` decides which are live) without a whole node's settings.
    /// Unknown keys in the file are still rejected.
    /// - Throws: `ConfigurationError` naming the bad key.
    public static func loadNode(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws(ConfigurationError) -> Node
    {
        let (values, names) = try reader(text: try file.map(readFile), source: file ?? "", environment: environment)
        var configuration = WorkerConfiguration.defaults
        try read(nodeSettings, into: &configuration, values, names)
        return configuration.node
    }

    /// The text of a config file.
    private static func readFile(_ file: String) throws(ConfigurationError) -> String {
        do {
            return try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: file, reason: "cannot read the config file: \(error.localizedDescription)")
        }
    }

    /// The YAML `text` (optional; `source` names it in errors), parsed once and checked against the key table,
    /// under the `ASYNCTASK_*` variables, with the names its placeholders stand for.
    private static func reader(text: String?, source: String, environment: [String: String]) throws(ConfigurationError) -> (
        ConfigValues, ConfigurationSource
    ) {
        let keys = configurationKeys
        let file = try text.map { (text) throws(ConfigurationError) in try ConfigurationFile(text: text, source: source) }
        try file?.checkKeys(keys)
        let names = ConfigurationSource(file: file, environment: environment)
        // Environment first: it wins over the file. Every ASYNCTASK_* variable must name a key (or be one the
        // tools read), so the file's names (targets, headers, key ids) are needed to know which keys there are.
        let overrides = try environmentOverrides(environment, names: names)
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: overrides.values, secretsSpecifier: .specific(overrides.secrets))
        ]
        if let file {
            let secret = keys.filter(\.isSecret).map(\.components)
            providers.append(
                try file.provider(source: source) { path in
                    secret.contains { $0.count == path.count && zip($0, path).allSatisfy { ConfigurationKey.isPlaceholder($0) || $0 == $1 } }
                })
        }
        return (ConfigValues(reader: ConfigReader(providers: providers), environment: environment), names)
    }

    /// The key ring from `encryption.*`. Key ids are the names under `encryption.keys` in the file, plus any
    /// listed in `ASYNCTASK_ENCRYPTION_KEY_IDS` (comma-separated) for environment-only setups.
    private static func keyRing(_ values: ConfigValues, _ names: ConfigurationSource) throws(ConfigurationError) -> KeyRing? {
        let ids = names.names(at: ["encryption", "keys"], pattern: ["encryption", "keys"])
        var ring = RawKeyRing.defaults
        try read([encryptionPrimary], into: &ring, values, names)
        guard !ids.isEmpty else {
            if ring.primary != nil {
                throw ConfigurationError(key: "encryption.keys", reason: "encryption.primary is set but no keys are configured")
            }
            return nil
        }
        guard let primary = ring.primary, !primary.isEmpty else {
            throw ConfigurationError(
                key: "encryption.primary", reason: "is required when encryption.keys are configured (the key id new rows are encrypted with)")
        }
        try read([encryptionKey], into: &ring, values, names)
        do {
            return try KeyRing(primary: primary, base64Keys: ring.keys)
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
}
