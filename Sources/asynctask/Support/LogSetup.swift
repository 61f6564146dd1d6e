import AsyncTaskCore
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
        let repeats = RepeatedLogFilter()
        LoggingSystem.bootstrap { label in
            let inner: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            var handler = RepeatLimitingLogHandler(label: label, inner: inner, filter: repeats)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log event as one JSON object per line on stderr: `ts`, `level`, `label`, `message`, then the
/// metadata keys. Values keep their JSON type: numbers (integers and decimals, also when a caller interpolated
/// them into a string, as most metadata is written) as JSON numbers, booleans as booleans, dictionaries as
/// objects and arrays as arrays; everything else is a string.
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
            switch convertible {
            case let bool as Bool: return bool
            case let int as any BinaryInteger: return NSNumber(value: Int64(clamping: int))
            case let double as Double where double.isFinite: return double
            default: return scalar(convertible.description, key: key)
            }
        case .string(let text):
            return scalar(text, key: key)
        }
    }

    /// A string value, as a JSON number when it is exactly one (`12`, `-3`, `0.25`; not `007`, `1e5` or
    /// digits beyond what a double holds exactly), else the redacted string.
    private static func scalar(_ text: String, key: String) -> Any {
        let redacted = Redaction.redact(key: key, text)
        guard redacted == text, text.utf8.count <= 15, text.wholeMatch(of: /-?(0|[1-9][0-9]*)(\.[0-9]+)?/) != nil else { return redacted }
        if !text.contains("."), let int = Int64(text) { return NSNumber(value: int) }
        return Double(text).map { $0 as Any } ?? redacted
    }
}
