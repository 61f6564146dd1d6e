import AsyncTask
import Foundation

/// Human tables and JSON for the CLI's listings (`--json` on every listing, DESIGN §9).
enum OutputFormat {
    /// Prints a value as pretty, key-sorted JSON with ISO 8601 dates to the millisecond (as the admin API).
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = OperatorJSON.encoder(pretty: true)
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    /// Prints rows as an aligned table with a header.
    static func printTable(header: [String], rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    /// Prints `name: value` lines, aligned, followed by a blank line.
    static func printFields(_ fields: [(String, String)]) {
        let width = fields.map(\.0.count).max() ?? 0
        for (name, value) in fields { print("\(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
        print("")
    }

    /// `2026-11-29 12:00:00.123Z`-style UTC timestamps.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// The first line of `text`, cut to `limit` characters with an ellipsis; `-` when nil.
    static func excerpt(_ text: String?, _ limit: Int) -> String {
        guard let text, !text.isEmpty else { return "-" }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }
}
