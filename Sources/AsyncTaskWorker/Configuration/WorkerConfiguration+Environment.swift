import AsyncTask
import Foundation

extension WorkerConfiguration {
    /// `ASYNCTASK_*` variables that are not configuration keys: the lists of names (`ASYNCTASK_TARGETS`,
    /// `ASYNCTASK_ENCRYPTION_KEY_IDS`) and those read by asynctask's own tools (the test harness, the scripts,
    /// the deploy files, examples/encrypt_args.py), so they may be set beside a node.
    public static let nonConfigurationVariables: Set<String> = Set(nameListVariables.values).union([
        "ASYNCTASK_BIN", "ASYNCTASK_IMAGE", "ASYNCTASK_KEY", "ASYNCTASK_UPDATE_GOLDEN",
        "ASYNCTASK_TEST_DATABASE_URL", "ASYNCTASK_TEST_PGDATA", "ASYNCTASK_TEST_PGCTL",
    ])

    /// The environment variable that overrides `key` (`targets.OrderClient.url` → `ASYNCTASK_TARGETS_ORDER_CLIENT_URL`):
    /// swift-configuration's rule, each dotted component with an underscore where a lower-case letter meets an
    /// upper-case one, upper-cased, anything but letters and digits made `_`. `splitWords: false` gives the
    /// spelling users also write for a CamelCase name (`ASYNCTASK_TARGETS_ORDERCLIENT_URL`), accepted as well.
    public static func environmentName(forKey key: String, splitWords: Bool = true) -> String {
        let components = key.split(separator: ".", omittingEmptySubsequences: false).map { component -> String in
            var text = ""
            var previous: Character?
            for character in component {
                if splitWords, let previous, previous.isLowercase, character.isUppercase { text.append("_") }
                text.append(character)
                previous = character
            }
            return String(text.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        }
        return environmentPrefix + components.joined(separator: "_")
    }

    /// The `ASYNCTASK_*` variables of `environment` as swift-configuration's environment provider reads them
    /// (prefix dropped), after checking each one, and which of them hold secrets: a variable that overrides no
    /// key of the key table (with this configuration's targets, headers and key ids in its placeholders) and
    /// that asynctask does not read otherwise is an error naming it and the nearest known name, so a typo never
    /// falls back to a default. An unsplit CamelCase spelling of a name (`…_ORDERCLIENT_URL`) is rewritten to the
    /// split one the provider reads.
    static func environmentOverrides(_ environment: [String: String], names: ConfigurationSource) throws(ConfigurationError) -> (
        values: [String: String], secrets: Set<String>
    ) {
        let variables = environment.keys.filter { $0.hasPrefix(environmentPrefix) }
        guard !variables.isEmpty else { return ([:], []) }
        var canonical = Set<String>()
        var aliases: [String: String] = [:]
        var secrets = Set<String>()
        for key in configurationKeys {
            for path in names.expand(key.components) {
                let name = environmentName(forKey: path.path)
                canonical.insert(name)
                if key.isSecret { secrets.insert(String(name.dropFirst(environmentPrefix.count))) }
                let plain = environmentName(forKey: path.path, splitWords: false)
                if plain != name { aliases[plain] = name }
            }
        }
        // Variables the file or other variables refer to as ${ASYNCTASK_…} are the user's own, not overrides.
        var referenced = Set<String>()
        for text in [names.file?.text ?? ""] + environment.values where text.contains("${") {
            referenced.formUnion(text.matches(of: /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/).map { String($0.output.1) })
        }

        var overrides: [String: String] = [:]
        for name in variables.sorted() {
            guard let value = environment[name] else { continue }
            if canonical.contains(name) {
                overrides[String(name.dropFirst(environmentPrefix.count))] = value
            } else if let split = aliases[name] {
                if let other = environment[split], other != value {
                    throw ConfigurationError(key: name, reason: "is set and so is \(split), to another value: they name the same key; set one")
                }
                overrides[String(split.dropFirst(environmentPrefix.count))] = value
            } else if !nonConfigurationVariables.contains(name) && !referenced.contains(name) {
                let targets = names.names(at: ["targets"], pattern: ["targets"])
                throw unknownVariable(name, known: canonical.union(aliases.keys).union(nonConfigurationVariables), targets: targets)
            }
        }
        return (overrides, secrets)
    }

    /// Checks the `ASYNCTASK_*` variables for a command that reads no worker configuration (`enqueue`,
    /// `attempts`, `migrate`, …) and so reads only `ASYNCTASK_DATABASE_URL`: a variable that is no name a node
    /// reads (any target in a placeholder) but is a typo of `ASYNCTASK_DATABASE_URL` (at most two letters off: `ASYNCTASK_DATABSE_URL`) is an
    /// error naming it, instead of a silent fall back to `DATABASE_URL` or to "no database given". Other
    /// unknown names are left to the node and `config check`: beside a command they may be the user's own
    /// `${ASYNCTASK_KEY_K1}` of a config file this command does not read.
    public static func checkDatabaseVariable(_ environment: [String: String]) throws(ConfigurationError) {
        let read = environmentName(forKey: "database_url")
        let variables = environment.keys.filter { $0.hasPrefix(environmentPrefix) && $0 != read }
        guard !variables.isEmpty else { return }
        var exact = nonConfigurationVariables
        var patterns: [Regex<Substring>] = []
        for key in configurationKeys {
            guard key.components.contains(where: { ConfigurationKey.isPlaceholder($0) }) else {
                exact.insert(environmentName(forKey: key.path))
                continue
            }
            // A placeholder stands for any name; the rest of the path is spelled as environmentName spells it.
            let parts = key.components.map { component in
                ConfigurationKey.isPlaceholder(component)
                    ? "[A-Z0-9_]+"
                    : NSRegularExpression.escapedPattern(for: String(environmentName(forKey: component).dropFirst(environmentPrefix.count)))
            }
            if let pattern = try? Regex<Substring>(NSRegularExpression.escapedPattern(for: environmentPrefix) + parts.joined(separator: "_")) {
                patterns.append(pattern)
            }
        }
        for name in variables.sorted() where !exact.contains(name) {
            if patterns.contains(where: { name.wholeMatch(of: $0) != nil }) { continue }
            if NearestName.nearest(to: name, in: [read], maxDistance: 2) != nil {
                throw ConfigurationError(
                    key: name,
                    reason: "unknown environment variable; did you mean \(read)? (this command reads its database from --database-url, "
                        + "\(read), DATABASE_URL or --config, in that order)")
            }
        }
    }

    /// The error for an `ASYNCTASK_*` variable that matches nothing.
    private static func unknownVariable(_ name: String, known: Set<String>, targets: [String]) -> ConfigurationError {
        var reason = "unknown environment variable: it overrides no configuration key"
        if let near = NearestName.nearest(to: name, in: known.sorted()) { reason += "; did you mean \(near)?" }
        if name.hasPrefix(environmentPrefix + "TARGETS_") {
            reason +=
                " A target's variables are ASYNCTASK_TARGETS_<NAME>_<KEY> for a target declared in the file or in ASYNCTASK_TARGETS"
                + " (declared: \(targets.isEmpty ? "none" : targets.joined(separator: ", "))), <NAME> upper-cased with CamelCase"
                + " split into words or not (OrderClient → ORDER_CLIENT or ORDERCLIENT); headers can be overridden, not added."
        } else {
            reason += " (the README's configuration reference lists every variable)."
        }
        return ConfigurationError(key: name, reason: reason)
    }

    /// A comma-separated list from the environment.
    static func listed(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
