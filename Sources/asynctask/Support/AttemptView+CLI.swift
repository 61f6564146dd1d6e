import AsyncTask
import Foundation

extension AttemptView {
    /// Every field for `printFields`, with the CLI's timestamps.
    var fields: [(String, String)] { fields(time: OutputFormat.timestamp) }

    /// The fields, then the kept tries as a table (oldest first) and the try numbers that left no record.
    func printDetail() {
        OutputFormat.printFields(fields)
        guard let tries, !tries.isEmpty else {
            print(numAttempts == 0 ? "no try yet\n" : "no try recorded (made before the try history existed, or its node stopped first)\n")
            return
        }
        print("tries (the newest \(Schema.keptTries) are kept):")
        OutputFormat.printTable(
            header: ["TRY", "NODE", "STARTED", "DURATION", "OUTCOME", "KIND", "HTTP", "ERROR", "RESPONSE"],
            rows: tries.map { entry in
                [
                    "\(entry.number)\(entry.maxAttempts.map { "/\($0)" } ?? "")", entry.node.map { String($0.prefix(8)) } ?? "-",
                    entry.startedAt.map(OutputFormat.timestamp) ?? "-", entry.durationMs.map { String(format: "%.1fms", $0) } ?? "-",
                    entry.outcome.rawValue, entry.errorKind ?? "-", entry.httpStatus.map(String.init) ?? "-", OutputFormat.excerpt(entry.error, 60),
                    OutputFormat.excerpt(entry.excerpt, 60),
                ]
            })
        if !missingTries.isEmpty {
            print("no outcome recorded for try \(missingTries.map(String.init).joined(separator: ", ")): its node stopped or lost its lease first")
        }
        print("")
    }
}
