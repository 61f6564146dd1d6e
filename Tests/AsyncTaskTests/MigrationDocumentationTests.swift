import AsyncTask
import Foundation
import Testing

/// Operators read the README's "Upgrades and migrations" table before an upgrade: every migration the code
/// applies must have a row there (`| version | `name` | what changes |`).
@Suite("README lists every migration")
struct MigrationDocumentationTests {
    /// The rows `| <version> | `<name>` |` of the checked-in README.
    static let documented: Set<String> = {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = (try? String(contentsOf: readme, encoding: .utf8)) ?? ""
        return Self.rows(in: text)
    }()

    /// `"<version> <name>"` for each migration row of a markdown text.
    static func rows(in markdown: String) -> Set<String> {
        var rows: Set<String> = []
        for line in markdown.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 3, let version = Int(cells[1]), cells[2].hasPrefix("`"), cells[2].hasSuffix("`") else { continue }
            rows.insert("\(version) \(cells[2].dropFirst().dropLast())")
        }
        return rows
    }

    @Test("every migration has a row in the README's schema changes table", arguments: Schema.migrations.map { "\($0.version) \($0.name)" })
    func documented(migration: String) {
        #expect(Self.documented.contains(migration), "README.md's 'Upgrades and migrations' table has no row for migration \(migration)")
    }

    @Test("the check finds rows and misses absent ones")
    func checkCanFail() {
        let rows = Self.rows(in: "| version | name | what |\n|---|---|---|\n| 1 | `first` | x |\n| 3 | `third` | y |\n")
        #expect(rows == ["1 first", "3 third"])
    }
}
