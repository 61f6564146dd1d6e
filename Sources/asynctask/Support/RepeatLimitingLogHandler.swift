import Foundation
import Logging
import Synchronization

/// Remembers recent warnings so that identical ones (same label, level, message and metadata, ignoring the
/// keys that change at every retry) are written once per window instead of at every retry of an outage: the
/// next one written after the window says how many were held back in `repeated`.
final class RepeatedLogFilter: Sendable {
    /// Metadata keys that differ between otherwise identical retry warnings.
    static let volatileKeys: Set<String> = ["retry_in", "backlog", "unreachable_seconds"]
    /// One line per identical warning at most this often.
    let window: Duration
    private let seen = Mutex<[String: (since: ContinuousClock.Instant, held: Int)]>([:])

    init(window: Duration = .seconds(60)) {
        self.window = window
    }

    /// Whether to write an event now and, if so, how many identical ones were held back since the last one.
    func admit(label: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> (write: Bool, held: Int) {
        guard level >= .warning else { return (true, 0) }
        let details = metadata.filter { !Self.volatileKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let key = ([label, level.rawValue, message] + details).joined(separator: "\u{1F}")
        let now = ContinuousClock.now
        return seen.withLock { seen in
            if let entry = seen[key], now - entry.since < window {
                seen[key] = (entry.since, entry.held + 1)
                return (false, 0)
            }
            let held = seen[key]?.held ?? 0
            if seen.count > 1000 { seen = seen.filter { now - $0.value.since < window } }
            seen[key] = (now, 0)
            return (true, held)
        }
    }
}

/// Wraps the process's log handler with a `RepeatedLogFilter`, so an outage of minutes writes a few warnings,
/// not one per retry.
struct RepeatLimitingLogHandler: LogHandler {
    let label: String
    var inner: any LogHandler
    let filter: RepeatedLogFilter

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        let decision = filter.admit(label: label, level: event.level, message: event.message.description, metadata: event.metadata ?? [:])
        guard decision.write else { return }
        var event = event
        if decision.held > 0 {
            var metadata = event.metadata ?? [:]
            metadata["repeated"] = .stringConvertible(decision.held)
            event.metadata = metadata
        }
        inner.log(event: event)
    }
}
