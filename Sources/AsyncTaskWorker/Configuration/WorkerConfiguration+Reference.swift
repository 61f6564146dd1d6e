extension WorkerConfiguration {
    /// The table of the README's "Configuration reference", generated from the key table: one row per key with
    /// its default, its `ASYNCTASK_*` variable, its type and what is allowed, and what it does.
    /// `ConfigReferenceTests` fails when the README's table differs from this (and rewrites it with
    /// `ASYNCTASK_UPDATE_GOLDEN=1`), so the reference can neither miss a key nor list one the code lacks.
    public static var referenceTable: String {
        var lines = ["| key | default | environment override | type | meaning |", "|---|---|---|---|---|"]
        for key in configurationKeys {
            let type = key.isSecret ? "\(key.type); a secret" : key.type
            lines.append("| `\(key.path)` | \(key.defaultValue) | `\(key.environmentVariable)` | \(type) | \(key.doc) |")
        }
        return lines.joined(separator: "\n")
    }
}
