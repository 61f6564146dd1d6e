import AsyncTaskWorker
import Foundation
import Logging
import Synchronization

/// Chooses the process's log output once at start: JSON lines in production (not a terminal), readable text
/// on a terminal, per `log.format`.
enum LogSetup {
    static func bootstrap(level: Logger.Level, format: WorkerConfiguration.LogFormat) {
        let json: Bool
        switch format {
        case .json: json = true
        case .text: json = false
        case .auto: json = isatty(STDERR_FILENO) == 0
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log event as one JSON object per line on stderr: `ts`, `level`, `label`, `message`, then the
/// metadata keys. Values are strings, as swift-log metadata renders them.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    /// One writer lock for the process, so concurrent lines never interleave.
    private static let output = Mutex(())

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [:]
        for (key, value) in metadata { object[key] = LogRedaction.redact(key: key, value.description) }
        if let extra = event.metadata { for (key, value) in extra { object[key] = LogRedaction.redact(key: key, value.description) } }
        object["ts"] = Date().formatted(.iso8601.time(includingFractionalSeconds: true).year().month().day().dateTimeSeparator(.standard))
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = LogRedaction.maskURLPasswords(event.message.description)
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        Self.output.withLock { _ in FileHandle.standardError.write(data) }
    }
}
