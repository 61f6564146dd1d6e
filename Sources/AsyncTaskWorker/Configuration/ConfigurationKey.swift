/// One key of the worker configuration as the README's reference documents it: its path, what it holds and
/// what is allowed, its default, its `ASYNCTASK_*` variable and one line saying what it does.
///
/// The key table (`WorkerConfiguration.configurationKeys`) is a list of these, each bound to where its value
/// goes; the loader, the unknown-key check, the environment overrides and the README reference all read it.
public struct ConfigurationKey: Sendable, Hashable {
    /// The dotted path with `<placeholder>` components for names the user picks: `node.lease`,
    /// `targets.<name>.url`, `targets.<name>.headers.<header>`.
    public let path: String
    /// What the value is and which values are allowed, as the reference's type column reads
    /// (`duration ≥ 50ms`, `whole number 1…10000`, one of `http`, `jsonrpc`).
    public let type: String
    /// The default as the reference writes it: `` `512` ``, `required`, `none (no webhook)`.
    public let defaultValue: String
    /// Whether the value is a secret: never logged, and marked secret to swift-configuration.
    public let isSecret: Bool
    /// What the key does, in one line.
    public let doc: String

    /// Creates a key.
    public init(path: String, type: String, defaultValue: String, isSecret: Bool = false, doc: String) {
        self.path = path
        self.type = type
        self.defaultValue = defaultValue
        self.isSecret = isSecret
        self.doc = doc
    }

    /// The path's components.
    var components: [String] { path.split(separator: ".").map(String.init) }

    /// The path with each placeholder written `*` (`targets.*.url`), the form `WorkerConfiguration.knownKeys` lists.
    public var pattern: String {
        components.map { Self.isPlaceholder($0) ? "*" : $0 }.joined(separator: ".")
    }

    /// The variable that overrides the key, placeholders kept: `ASYNCTASK_TARGETS_<NAME>_URL`.
    public var environmentVariable: String {
        let name = WorkerConfiguration.environmentName(forKey: components.map { Self.isPlaceholder($0) ? "placeholder" : $0 }.joined(separator: "."))
        var parts = name.dropFirst(WorkerConfiguration.environmentPrefix.count).split(separator: "_", omittingEmptySubsequences: false).map(
            String.init)
        // Each placeholder came out as one PLACEHOLDER word; put the placeholder itself back, upper-cased.
        var placeholders = components.filter(Self.isPlaceholder).makeIterator()
        for index in parts.indices where parts[index] == "PLACEHOLDER" {
            parts[index] = placeholders.next()?.uppercased() ?? parts[index]
        }
        return WorkerConfiguration.environmentPrefix + parts.joined(separator: "_")
    }

    /// A value as the reference writes it: in backticks.
    static func code(_ value: some CustomStringConvertible) -> String { "`\(value)`" }

    /// Whether a path component is a `<placeholder>`.
    static func isPlaceholder(_ component: some StringProtocol) -> Bool {
        component.hasPrefix("<") && component.hasSuffix(">")
    }
}
