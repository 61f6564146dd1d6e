import AsyncTask
import Configuration
import Yams

/// A config file's text parsed once, by Yams: the tree names the targets, headers and key ids the file declares,
/// is checked against the key table, and hands its values to swift-configuration as an in-memory provider
/// (the environment provider is put in front of it, so the environment wins).
struct ConfigurationFile {
    /// The top-level mapping.
    let root: Yams.Node
    /// The text, for `${ASYNCTASK_…}` references that make a variable the user's own.
    let text: String

    /// Parses `text`; `source` (a path or `<config>`) names it in errors about the text as a whole.
    /// - Throws: `ConfigurationError` for text that is not YAML (by position and problem only: Yams' own
    ///   description quotes the file, secrets included), is empty, or is not a mapping at the top level.
    init(text: String, source: String) throws(ConfigurationError) {
        let tree: Yams.Node?
        do {
            tree = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(key: source, reason: "not valid YAML: \(YAMLErrorSummary.describe(error) ?? "unparseable")")
        }
        guard let tree else {
            throw ConfigurationError(key: source, reason: "the file is empty (expected keys such as database_url and targets)")
        }
        guard tree.mapping != nil else { throw ConfigurationError(key: source, reason: "the top level must be a mapping of keys") }
        root = tree
        self.text = text
    }

    /// The node at `components`, if the file has one.
    func node(at components: [String]) -> Yams.Node? {
        var node: Yams.Node? = root
        for component in components { node = node?.mapping?[component] }
        return node
    }

    /// The names of the mapping at `components` (targets, headers, key ids); none when it is not a mapping.
    func names(at components: [String]) -> [String] {
        node(at: components)?.mapping?.keys.compactMap(\.string) ?? []
    }

    /// Rejects a key no entry of `keys` matches, naming the first one and, when one is close, the known key
    /// it was probably meant to be (`node.concurency` → `node.concurrency`).
    func checkKeys(_ keys: [ConfigurationKey]) throws(ConfigurationError) {
        try check(root, path: [], patterns: keys.map(\.components))
    }

    private func check(_ node: Yams.Node, path: [String], patterns: [[String]]) throws(ConfigurationError) {
        guard let mapping = node.mapping else {
            guard patterns.contains(where: { Self.matches($0, path) }) else { throw unknown(path, patterns: patterns) }
            return
        }
        for (name, child) in mapping {
            // An empty name (`"": 1`, or `&a: 1`, an anchor on an empty key) would make an error name no key at all.
            guard let name = name.string, !name.isEmpty else {
                throw ConfigurationError(key: path.isEmpty ? "(top level)" : path.joined(separator: "."), reason: "keys must be non-empty strings")
            }
            let childPath = path + [name]
            // A mapping is fine when some known key continues below it.
            if child.mapping != nil,
                !patterns.contains(where: { $0.count > childPath.count && Self.matches(Array($0.prefix(childPath.count)), childPath) })
            {
                throw unknown(childPath, patterns: patterns)
            }
            try check(child, path: childPath, patterns: patterns)
        }
    }

    /// Whether `path` is `pattern` with its placeholders filled in. The path is compared as its dotted key
    /// reads, so a name holding a dot (`targets: { "a.b": … }`) matches no key, as swift-configuration could not
    /// tell it apart from two levels.
    private static func matches(_ pattern: [String], _ path: [String]) -> Bool {
        guard !path.isEmpty else { return pattern.isEmpty }
        let path = path.joined(separator: ".").split(separator: ".", omittingEmptySubsequences: false)
        return pattern.count == path.count && zip(pattern, path).allSatisfy { ConfigurationKey.isPlaceholder($0) || $0 == $1 }
    }

    /// The error for an unknown key, with the nearest key of the same block.
    private func unknown(_ path: [String], patterns: [[String]]) -> ConfigurationError {
        let key = path.joined(separator: ".")
        let parent = Array(path.dropLast())
        let siblings = patterns.compactMap { pattern -> String? in
            guard pattern.count >= path.count, Self.matches(Array(pattern.prefix(parent.count)), parent),
                !ConfigurationKey.isPlaceholder(pattern[parent.count])
            else { return nil }
            return (parent + [pattern[parent.count]]).joined(separator: ".")
        }
        var reason = "unknown key"
        if let near = NearestName.nearest(to: key, in: Set(siblings).sorted()) { reason += "; did you mean \(near)?" }
        return ConfigurationError(key: key, reason: reason + " (known keys are listed in the README's configuration reference)")
    }

    /// The file's values for swift-configuration, as its YAML provider reads them (a scalar as its text, a
    /// list of scalars as a string array), keyed by dotted path; `isSecret` marks the secret ones.
    /// - Throws: `ConfigurationError` for a list holding a mapping or a list.
    func provider(source: String, isSecret: ([String]) -> Bool) throws(ConfigurationError) -> InMemoryProvider {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        var pending: [([String], Yams.Node)] = [([], root)]
        while let (path, node) = pending.popLast() {
            if let mapping = node.mapping {
                // checkKeys has made sure every name is a non-empty string.
                pending += mapping.compactMap { name, child in name.string.map { (path + [$0], child) } }
                continue
            }
            let content: ConfigContent
            if let sequence = node.sequence {
                var items: [String] = []
                for (index, item) in sequence.enumerated() {
                    guard let scalar = item.scalar else {
                        throw ConfigurationError(
                            key: path.joined(separator: "."),
                            reason: "item \(index + 1) of the list is itself a mapping or a list; a list holds plain values")
                    }
                    items.append(scalar.string)
                }
                content = .stringArray(items)
            } else if let scalar = node.scalar {
                content = .string(scalar.string)
            } else {
                continue
            }
            // Keyed as swift-configuration decodes a dotted key, so a name holding a dot is found as it always was.
            values[AbsoluteConfigKey(ConfigKey(path.joined(separator: ".")))] = ConfigValue(content, isSecret: isSecret(path))
        }
        return InMemoryProvider(name: source, values: values)
    }
}
