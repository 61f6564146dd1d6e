/// Where a configuration comes from, the file (optional) and the environment, as far as the key table's
/// placeholders need it: which targets, headers and key ids exist, so `targets.<name>.url` becomes
/// `targets.OrderClient.url`. Names come from the file's mappings, and for the blocks of
/// `WorkerConfiguration.nameListVariables` also from a comma-separated variable (`ASYNCTASK_TARGETS`).
struct ConfigurationSource {
    /// The parsed file, if there is one.
    let file: ConfigurationFile?
    /// The process environment.
    let environment: [String: String]

    /// The names at `components` (a concrete path), `pattern` being the same path as the key table writes it.
    func names(at components: [String], pattern: [String]) -> [String] {
        var names = Set(file?.names(at: components) ?? [])
        if let variable = WorkerConfiguration.nameListVariables[pattern.joined(separator: ".")] {
            names.formUnion(WorkerConfiguration.listed(environment[variable]))
        }
        return names.sorted()
    }

    /// Every concrete path of the key `pattern`, its first components replaced by `prefix` (a target's
    /// `targets.OrderClient`) and each remaining placeholder by each name found there.
    func expand(_ pattern: [String], prefix: [String] = []) -> [ConfigurationPath] {
        var paths: [[String]] = [prefix]
        for component in pattern.dropFirst(prefix.count) {
            if ConfigurationKey.isPlaceholder(component) {
                paths = paths.flatMap { path in names(at: path, pattern: Array(pattern.prefix(path.count))).map { path + [$0] } }
            } else {
                paths = paths.map { $0 + [component] }
            }
        }
        return paths.map(ConfigurationPath.init)
    }
}
