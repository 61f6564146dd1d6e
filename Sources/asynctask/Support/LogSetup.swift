import AsyncTaskCore
import AsyncTaskWorker
import Foundation
import Logging
import Synchronization

/// Chooses the process's log output once at start: JSON lines in production (not a terminal), readable text
/// on a terminal, per `log.format`.
enum LogSetup {
    static func bootstrap(level: Logger.Level, format: WorkerConfiguration.LogFormat, repeatWindow: Duration) {
        let json: Bool
        switch format {
        case .json: json = true
        case .text: json = false
        case .auto: json = isatty(STDERR_FILENO) == 0
        }
        let repeats = RepeatedLogFilter(window: repeatWindow)
        LoggingSystem.bootstrap { label in
            let inner: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            var handler = RepeatLimitingLogHandler(label: label, inner: inner, filter: repeats)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log event as one JSON object per line on stderr: `ts`, `level`, `label`, `message`, then the
/// metadata keys. A value's JSON type follows how it was logged, never what its text looks like: numbers and
/// booleans logged as such (`.stringConvertible(42)`) are JSON numbers and booleans, dictionaries objects,
/// arrays arrays, and strings stay strings even when they hold digits (a token or an id such as `"0042"` or
/// `"17"` keeps one type from line to line).
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
        var object: [String: Any] = [:]
        for (key, value) in metadata { object[key] = Self.json(value, key: key) }
        if let extra = event.metadata { for (key, value) in extra { object[key] = Self.json(value, key: key) } }
        object["ts"] = Date().formatted(.iso8601.time(includingFractionalSeconds: true).year().month().day().dateTimeSeparator(.standard))
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = Redaction.maskingPasswords(in: event.message.description)
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        Self.output.withLock { _ in FileHandle.standardError.write(data) }
    }

    /// The JSON value for a metadata value under `key` (redacted as `Redaction` says, at every depth).
    static func json(_ value: Logger.Metadata.Value, key: String) -> Any {
        switch value {
        case .dictionary(let dictionary):
            return dictionary.reduce(into: [String: Any]()) { $0[$1.key] = json($1.value, key: $1.key) }
        case .array(let array):
            return array.map { json($0, key: key) }
        case .stringConvertible(let convertible):
            // A secret-looking key hides its value whatever its type.
            let text = convertible.description
            let redacted = Redaction.redact(key: key, text)
            guard redacted == text else { return redacted }
            switch convertible {
            case let bool as Bool: return bool
            case let int as any BinaryInteger: return NSNumber(value: Int64(clamping: int))
            case let double as Double where double.isFinite: return double
            case let float as Float where float.isFinite: return Double(float)
            default: return text
            }
        case .string(let text):
            return Redaction.redact(key: key, text)
        }
    }
}
