import Foundation
import Testing

/// Compares CLI output with a file in `Golden/`, after normalising what changes from run to run (times, ages)
/// into same-length placeholders so column alignment is still checked. `ASYNCTASK_UPDATE_GOLDEN=1` rewrites
/// the files instead.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Times → `YYYY-MM-DDTHH:MM:SS.sssZ`; digits of ages and lags (`4.2s`, `5m 3s`, `1h 2m`) → 9.
    static func normalise(_ text: String) -> String {
        var result = text.replacing(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/) { match in
            match.output.1 == nil ? "YYYY-MM-DDTHH:MM:SSZ" : "YYYY-MM-DDTHH:MM:SS.sssZ"
        }
        result = result.replacing(/\b(\d+\.\d)s\b|\b\d+m \d+s\b|\b\d+h \d+m\b|\b\d+s ago/) { match in
            String(match.output.0).replacing(/\d/) { _ in "9" }
        }
        return result
    }

    /// Expects `output` (normalised) to equal the golden file `name`.
    static func check(_ output: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let actual = normalise(output)
        let file = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["ASYNCTASK_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? "(missing golden file \(name); run with ASYNCTASK_UPDATE_GOLDEN=1)"
        #expect(actual == expected, "golden \(name) differs:\n--- expected\n\(expected)\n--- actual\n\(actual)", sourceLocation: sourceLocation)
    }
}
