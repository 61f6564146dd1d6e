import Foundation

/// The rows of the "## Configuration reference" table of a README: key, default and environment override,
/// with `<name>`-style placeholders written as `*` (the form `WorkerConfiguration.knownKeys` uses).
struct ConfigReference {
    struct Row {
        let key: String
        let defaultValue: String
        let environment: String
    }

    let rows: [Row]

    init(markdown: String) {
        var rows: [Row] = []
        var inSection = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                inSection = line == "## Configuration reference"
                continue
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`"), cells[0].hasSuffix("`") else { continue }
            rows.append(Row(
                key: Self.normalized(cells[0]), defaultValue: cells[1], environment: Self.normalized(cells[2])))
        }
        self.rows = rows
    }

    /// The keys of `keys` that no row documents.
    func missing(from keys: [String]) -> [String] {
        let documented = Set(rows.map(\.key))
        return keys.filter { !documented.contains($0) }
    }

    /// Strips the backticks and writes each `<placeholder>` as `*`.
    private static func normalized(_ cell: String) -> String {
        var text = cell.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        while let open = text.firstIndex(of: "<"), let close = text[open...].firstIndex(of: ">") {
            text.replaceSubrange(open...close, with: "*")
        }
        return text
    }
}
