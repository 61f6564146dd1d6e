import Foundation
import Synchronization

/// A fault the example target plays for a while, switched on through `POST /_control` (with `--control`), so
/// tests can make a live target misbehave without restarting it: the chaos suite's bursts of 503s and timeouts.
///
/// The request body is a JSON object:
///
/// ```json
/// {"fault": "unavailable", "seconds": 5}
/// {"fault": "hang", "seconds": 5, "hang_ms": 4000}
/// {"fault": "none"}
/// ```
///
/// - `unavailable`: every call is answered 503 at once.
/// - `hang`: every call is held for `hang_ms` (default 30000), past the caller's timeout, then answered 503.
/// - `none`: back to normal behaviour.
///
/// The fault ends by itself after `seconds` (at most 3600). A call takes the fault in force when it arrives.
struct ExampleTargetFault: Sendable {
    /// What a faulty call gets.
    enum Kind: String, Sendable {
        case unavailable, hang
    }

    let kind: Kind
    /// When a hanging call is answered (its 503) after arriving.
    let hang: Duration
    /// When the fault ends by itself.
    let until: ContinuousClock.Instant

    /// Parses a `/_control` body. Returns nil for `{"fault": "none"}`.
    /// - Throws: `ExampleTargetFault.BadControl`, naming the field that is wrong.
    static func parse(_ body: Data, now: ContinuousClock.Instant = .now) throws -> ExampleTargetFault? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw BadControl("the body must be a JSON object such as {\"fault\": \"unavailable\", \"seconds\": 5}")
        }
        let known: Set<String> = ["fault", "seconds", "hang_ms"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw BadControl("unknown field '\(unknown)' (known: fault, seconds, hang_ms)")
        }
        guard let name = object["fault"] as? String else { throw BadControl("'fault' is required: unavailable, hang or none") }
        if name == "none" { return nil }
        guard let kind = Kind(rawValue: name) else { throw BadControl("'fault' must be unavailable, hang or none, not '\(name)'") }
        guard let seconds = (object["seconds"] as? NSNumber)?.doubleValue, seconds > 0, seconds <= 3600 else {
            throw BadControl("'seconds' must be a number of seconds between 0 and 3600")
        }
        var hang = Duration.seconds(30)
        if let value = object["hang_ms"] {
            guard let milliseconds = (value as? NSNumber)?.intValue, (1...600_000).contains(milliseconds) else {
                throw BadControl("'hang_ms' must be a whole number of milliseconds between 1 and 600000")
            }
            hang = .milliseconds(milliseconds)
        }
        return ExampleTargetFault(kind: kind, hang: hang, until: now + .milliseconds(Int64(seconds * 1000)))
    }

    /// A `/_control` body that cannot be used; the message names the problem.
    struct BadControl: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
