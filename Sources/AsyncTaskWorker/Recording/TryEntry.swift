import AsyncTaskCore
import Foundation

/// One entry of an attempt's try history (`tries`, schema v5) as JSON text, written by the node for the outcome
/// flush to append.
///
/// The flush built each entry in SQL (`jsonb_build_object`, `to_char`, `round`, `jsonb_strip_nulls`) until that
/// was measured at 9.8 us of PostgreSQL's time per outcome (flushes of 170 on a 400,000-row table), a sixth of
/// all PostgreSQL spent per attempt in an unbatched drain; reading the node's text as jsonb costs it 2.1 us. The entry is the one the SQL wrote:
/// the same keys, a key left out where its value is null, `started_at` in UTC with milliseconds truncated and
/// `duration_ms` with three decimals (`TryEntryTests` compares the two against a real PostgreSQL).
struct TryEntry: Sendable, Equatable {
    /// The entry's JSON object.
    let json: String

    /// The entry for `outcome`'s try, made by the node whose id is `node` (lowercase, as PostgreSQL writes a
    /// uuid; the flush writes it once for all its entries).
    init(_ outcome: AttemptOutcome, node: String) {
        let stored = outcome.disposition.stored
        var json = "{\"try\":\(outcome.attempt.attemptNumber),\"node\":\"\(node)\""
        if let startedAt = outcome.startedAt {
            let micros = Int64((startedAt.timeIntervalSince1970 * 1_000_000).rounded())
            json += ",\"started_at\":\"\(UTCTimestamp(microsecondsSinceEpoch: micros).iso8601Milliseconds)\""
        }
        if let duration = outcome.duration {
            json += ",\"duration_ms\":" + Self.milliseconds(duration)
        }
        json += ",\"outcome\":\""
        json += stored.status != .pending ? stored.status.rawValue : (outcome.error == nil ? "released" : "retry")
        json += "\""
        if let maxAttempts = outcome.maxAttempts {
            json += ",\"max_attempts\":\(maxAttempts)"
        }
        if let kind = outcome.errorKind {
            json += ",\"error_kind\":"
            JSONString.append(kind.rawValue, to: &json)
        }
        if let status = outcome.httpStatus {
            json += ",\"http_status\":\(status)"
        }
        if let error = outcome.error {
            json += ",\"error\":"
            JSONString.append(error, to: &json)
        }
        if let excerpt = outcome.excerpt, !excerpt.isEmpty {
            json += ",\"excerpt\":"
            JSONString.append(excerpt, to: &json)
        }
        self.json = json + "}"
    }

    /// `duration` in milliseconds with three decimals (`12.500`), rounded half away from zero as PostgreSQL's
    /// `round(numeric, 3)` does; in integers, so that no binary fraction lands a tie on the wrong side.
    static func milliseconds(_ duration: Duration) -> String {
        guard duration >= .zero else { return "-" + milliseconds(.zero - duration) }
        let (seconds, attoseconds) = duration.components
        let perMicrosecond: Int64 = 1_000_000_000_000
        var micros = seconds * 1_000_000 + attoseconds / perMicrosecond
        if attoseconds % perMicrosecond * 2 >= perMicrosecond { micros += 1 }
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
