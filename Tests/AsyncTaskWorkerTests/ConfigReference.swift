import Foundation

/// The rows of the "## Configuration reference" table of a README: key, default and environment override,
/// with `<name>`-style placeholders written as `*` (the form `WorkerConfiguration.knownKeys` uses), and the
/// table's text as written.
struct ConfigReference {
    struct Row {
        let key: String
        let defaultValue: String
        let environment: String
    }

    let rows: [Row]
    /// The lines of the section's first table (header and separator included), joined by newlines.
    let table: String
    /// Where those lines are in the markdown (line numbers from 0), for rewriting them.
    let tableLines: Range<Int>?

    init(markdown: String) {
        var rows: [Row] = []
        var inSection = false
        var tableStart: Int?
        var tableEnd: Int?
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() {
            if line.hasPrefix("## ") {
                if inSection, tableStart != nil, tableEnd == nil { tableEnd = number }
                inSection = line == "## Configuration reference"
                continue
            }
            if inSection, tableEnd == nil {
                if line.hasPrefix("|") {
                    tableStart = tableStart ?? number
                } else if tableStart != nil {
                    tableEnd = number
                }
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`"), cells[0].hasSuffix("`") else { continue }
            rows.append(
                Row(
                    key: Self.normalized(cells[0]), defaultValue: cells[1], environment: Self.normalized(cells[2])))
        }
        self.rows = rows
        let range = tableStart.map { $0..<(tableEnd ?? lines.count) }
        tableLines = range
        table = range.map { lines[$0].joined(separator: "\n") } ?? ""
    }

    /// `markdown` with the section's first table replaced by `table` (nil when the section has no table).
    static func replacingTable(in markdown: String, with table: String) -> String? {
        guard let range = ConfigReference(markdown: markdown).tableLines else { return nil }
        var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.replaceSubrange(range, with: table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        return lines.joined(separator: "\n")
    }

    /// The keys of the rows that are not in `keys` (README rows for keys the code lacks).
    func extra(beyond keys: [String]) -> [String] {
        let known = Set(keys)
        return rows.map(\.key).filter { !known.contains($0) }
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
