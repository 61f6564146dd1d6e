import Foundation
import Logging
import Synchronization

/// Remembers recent warnings so that identical ones (same label, level, message and metadata, ignoring the
/// keys that change at every retry) are written once per window instead of at every retry of an outage.
///
/// The count held back is never lost: the next identical warning written after the window carries it in
/// `repeated`; when none comes, the next line of any kind written after the window is preceded by a
/// `warning repeated` line (the held warning's level and details, `repeated_message`, `repeated`).
final class RepeatedLogFilter: Sendable {
    /// Metadata keys that differ between otherwise identical retry warnings.
    static let volatileKeys: Set<String> = ["retry_in", "backlog", "unreachable_seconds"]
    /// The message of a line that reports warnings held back when no identical one followed.
    static let summaryMessage = "warning repeated"

    /// A held-back count to write as its own line.
    struct Summary {
        let level: Logger.Level
        let message: String
        /// The newest held warning's metadata.
        let metadata: Logger.Metadata
        let held: Int
    }

    /// What to do with an event.
    struct Decision {
        /// Write the event.
        var write: Bool
        /// Identical warnings held back since the last one written (the event carries the count when written).
        var held: Int
        /// Counts of other warnings whose window ended without an identical one to carry them: write these first.
        var summaries: [Summary]
    }

    private struct Entry {
        /// When the last identical warning was written.
        var since: ContinuousClock.Instant
        /// How many were held back since.
        var held: Int
        /// The newest held one, for its summary line.
        var last: (level: Logger.Level, message: String, metadata: Logger.Metadata)
    }

    /// One line per identical warning at most this often; zero writes every one.
    let window: Duration
    private let seen = Mutex<[String: Entry]>([:])

    init(window: Duration = .seconds(60)) {
        self.window = window
    }

    /// Whether to write an event now and, if so, how many identical ones were held back since the last one,
    /// and which other held counts are due to be written before it.
    func admit(label: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> Decision {
        let now = ContinuousClock.now
        // Only warnings and above are limited; any line, limited or not, may carry out counts that are due.
        let key = level >= .warning ? Self.key(label: label, level: level, message: message, metadata: metadata) : nil
        return seen.withLock { seen in
            // Counts whose window ended with no identical warning since: reported now, on this line's way out.
            var summaries: [Summary] = []
            // Only the due entries are sorted: this runs for every line written, and almost always finds none.
            let due = seen.lazy.filter { $0.key != key && $0.value.held > 0 && now - $0.value.since >= self.window }
            for (entryKey, entry) in due.sorted(by: { $0.value.since < $1.value.since }) {
                summaries.append(Summary(level: entry.last.level, message: entry.last.message, metadata: entry.last.metadata, held: entry.held))
                seen[entryKey] = nil
            }
            guard let key, window > .zero else { return Decision(write: true, held: 0, summaries: summaries) }
            if let entry = seen[key], now - entry.since < window {
                seen[key] = Entry(since: entry.since, held: entry.held + 1, last: (level, message, metadata))
                return Decision(write: false, held: 0, summaries: summaries)
            }
            let held = seen[key]?.held ?? 0
            if seen.count > 1000 { seen = seen.filter { now - $0.value.since < window || $0.value.held > 0 } }
            seen[key] = Entry(since: now, held: 0, last: (level, message, metadata))
            return Decision(write: true, held: held, summaries: summaries)
        }
    }

    /// What makes two warnings identical: label, level, message and the metadata that does not change per retry.
    private static func key(label: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let details = metadata.filter { !volatileKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return ([label, level.rawValue, message] + details).joined(separator: "\u{1F}")
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
        for summary in decision.summaries {
            var metadata = summary.metadata
            metadata["repeated_message"] = .string(summary.message)
            metadata["repeated"] = .stringConvertible(summary.held)
            var line = event
            line.error = nil
            line.level = summary.level
            line.message = "\(RepeatedLogFilter.summaryMessage)"
            line.metadata = metadata
            inner.log(event: line)
        }
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
