import AsyncTaskWorker
import Foundation
import Testing

/// A config file that is not valid YAML is reported by position and problem, never by quoting the file: its
/// lines hold the database password, webhook secrets and tokens.
@Suite("YAML errors never quote the config file")
struct YAMLErrorSummaryTests {
    static let password = "Pw-\(UUID().uuidString.prefix(8))"
    static let secret = "WebhookSecret-\(UUID().uuidString.prefix(8))"

    func write(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-yaml-\(UUID()).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(
        "a duplicated key, a stray quote, a bad indent and a tab: line, column and problem, no secret",
        arguments: [
            // Yams describes a duplicated key with the whole document.
            (
                "database_url: postgresql://u:\(password)@db/app\nnode: { concurrency: 5 }\nnode: { lease: 30s }\nwebhook: { url: \"http://h/w\", secret: \"\(secret)\" }\n",
                "line 2, column 1", "duplicated key(s) 'node'"
            ),
            // The others with the offending line.
            ("database_url: \"postgresql://u:\(password)@db/app\nwebhook: { secret: \"\(secret)\" }\n", "line 2", "did not find expected key"),
            ("webhook:\n  secret: \(secret)\n    url: http://h/\(password)\n", "line 3", "mapping values are not allowed"),
            ("database_url: postgresql://u:\(password)@db/app\n\twebhook: \(secret)\n", "line 2", "tab"),
        ])
    func syntaxErrors(yaml: String, position: String, problem: String) async throws {
        let path = try write(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = await #expect(throws: ConfigurationError.self) { try await WorkerConfiguration.load(file: path, environment: [:]) }
        let text = error?.description ?? ""
        #expect(text.contains("not valid YAML"), "\(text)")
        #expect(text.contains(position), "\(text)")
        #expect(text.contains(problem), "\(text)")
        #expect(!text.contains(Self.password) && !text.contains(Self.secret), "the error quotes the file: \(text)")
    }
}
