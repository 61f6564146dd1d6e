import AsyncTask
import Crypto
import Foundation
import Testing

/// A released migration never changes: databases already migrated would differ from new ones. Several
/// migrations are built from shared Swift (the claim function, the webhook trigger), so a refactoring could change
/// an old migration's SQL without anyone editing it; each released migration's SQL is pinned by its SHA-256.
@Suite("Released migrations keep their SQL")
struct MigrationTextTests {
    /// The SHA-256 of each released migration's SQL. A new migration gets its row when it is released.
    static let released: [Int: String] = [
        1: "6a34657fdf3e99f4d9effe2c18c72c54e992cbfa980ec7f835af69ab552c9014",
        2: "d3655788ffbf5f323eef0fffa3b84e98cf0421a32045e79480652621dcc09a67",
        3: "96f832ac8ee9e04fdb4b403678a43634f8f7c5f11dcf3b6ccaa03b0eeaf0fd67",
        4: "4753b20ea0b550250075927e0a446caf74ab542c38f8c0e707b2086356ad646a",
        5: "1e5141bf1488b63d196f9797e6750ef142ebe9d8be6e9279a943e64558658355",
        6: "02a230503450c034ad69e2c23792ef3be14c8c92132061f33e718ef5cb7d60ce",
        7: "d6b211c59503c7e7da6cbdf8e6f4a2cb55a1ab5c008927a4fedc46e786d895e4",
        8: "e9cbeba57c1fe80f19aef475c113aea29b5c368482a8b7af378f738559d037f9",
        9: "4cfb262e2f839d52bd80d2e3b66fee2079eb7e0ad7397446e0b41db8eaac9d92",
        10: "9a8462121a2d2188efe658e84a854b898a314f76c51600199a2a7cd53b7984be",
        11: "70e8a09a84f62e147df68c759ed4b97675945c029f7bde0296f9751c7e5b3708",
        12: "2b822abfa53df5eb6ea791a02ce78b0b630a38012b781ac17baad68924936724",
        13: "e7b7ec5f4d13597953e89370796f5518a519a5cecac41a86704388744c71514c",
    ]

    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    @Test("every released migration's SQL has its recorded digest", arguments: Schema.migrations.map(\.version))
    func unchanged(version: Int) throws {
        let migration = try #require(Schema.migrations.first { $0.version == version })
        let actual = Self.digest(migration.sql)
        let expected = try #require(
            Self.released[version], "migration \(version) (\(migration.name)) has no recorded digest; add \(version): \"\(actual)\"")
        #expect(actual == expected, "migration \(version) (\(migration.name)) changed: its SQL now hashes to \(actual)")
    }

    @Test("the digest tells texts apart")
    func digestCanFail() {
        #expect(Self.digest("SELECT 1") != Self.digest("SELECT 1 "))
        #expect(Self.digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
