import AsyncTaskCore
public import CurlHTTP
public import Foundation

/// Turns the reply to a batched request into one ``CallOutcome`` per attempt (README "Batched delivery").
///
/// - A transport failure or a status that is not 2xx applies to every attempt of the request, by the same
///   rule as an unbatched call (``OutcomeClassifier``).
/// - A 2xx reply must be a JSON array of JSON-RPC responses (`jsonrpc`) or `{"results":[…]}` (`http`); a reply
///   of another shape applies to every attempt as an invalid response (permanent, as for an unbatched call). A
///   JSON-RPC error object with a null id instead of an array refuses the batch whole: its error applies to all.
/// - Each element decides the attempt its `id` names: a JSON-RPC element by ``OutcomeClassifier``'s rule
///   (`error.data.retry_after` gives its delay); an `http` element by its `status`: `ok` succeeds, `retry` is
///   retryable (after its `retry_after`, else the reply's `Retry-After`), `fail` is permanent.
/// - An attempt without an element is retryable; an attempt with two or more elements is retryable too (the
///   reply contradicts itself, so none decides); an element whose id was not in the request is ignored and
///   reported.
public struct BatchReplyClassifier: Sendable {
    /// The outcome of each attempt, and what the reply held that matched no attempt (for the node's log).
    public struct Reply: Sendable, Hashable {
        /// One outcome per attempt id of the request.
        public var outcomes: [Int64: CallOutcome]
        /// Ids of elements that named no attempt of the request (`"?"` for an element without a usable id).
        public var unknownIDs: [String] = []
        /// Attempt ids that had more than one element.
        public var duplicateIDs: [Int64] = []
    }

    /// The unbatched rules this classifier applies to a whole request and to JSON-RPC elements.
    public var classifier: OutcomeClassifier

    /// Creates a classifier.
    public init(classifier: OutcomeClassifier = OutcomeClassifier()) {
        self.classifier = classifier
    }

    /// Classifies a transport failure: the same outcome for every attempt.
    public func classify(_ error: HTTPClientError, attemptIDs: [Int64]) -> Reply {
        all(attemptIDs, classifier.classify(error))
    }

    /// Classifies the reply to a batch of `attemptIDs` sent with `protocol`.
    /// - Parameter now: the time against which an HTTP-date `Retry-After` is measured.
    public func classify(_ response: HTTPResponse, protocol: TargetProtocol, attemptIDs: [Int64], now: Date) -> Reply {
        let status = response.status
        guard (200...299).contains(status) else {
            return all(
                attemptIDs,
                classifier.classifyStatus(response, excerpt: ResponseExcerpt.make(response.body, maxBytes: classifier.excerptBytes), now: now))
        }
        func invalid(_ why: String) -> Reply {
            all(
                attemptIDs,
                .permanent(
                    kind: .invalidResponse, message: "not a valid batch reply: \(why)", httpStatus: status,
                    excerpt: ResponseExcerpt.make(response.body, maxBytes: classifier.excerptBytes)))
        }
        if response.bodyTruncated { return invalid("larger than \(response.body.count) bytes") }
        let parsed = try? JSONSerialization.jsonObject(with: Data(response.body))
        let elements: [Any]
        switch `protocol` {
        case .jsonrpc:
            if let array = parsed as? [Any] {
                elements = array
            } else if let object = parsed as? [String: Any], object["id"] is NSNull, object["error"] != nil {
                let excerpt = ResponseExcerpt.make(response.body, maxBytes: classifier.excerptBytes)
                return all(attemptIDs, classifier.classifyJSONRPC(object: object, attemptID: nil, status: status, excerpt: excerpt))
            } else {
                return invalid("the body is not a JSON array")
            }
        case .http:
            guard let array = (parsed as? [String: Any])?["results"] as? [Any] else { return invalid("the body has no \"results\" array") }
            elements = array
        }

        let requested = Set(attemptIDs)
        var found: [Int64: [String: Any]] = [:]
        var reply = Reply(outcomes: [:])
        var duplicates = Set<Int64>()
        for element in elements {
            guard let object = element as? [String: Any], let id = Self.attemptID(object["id"]) else {
                reply.unknownIDs.append(((element as? [String: Any])?["id"]).map { "\($0)" } ?? "?")
                continue
            }
            guard requested.contains(id) else {
                reply.unknownIDs.append(String(id))
                continue
            }
            if found.updateValue(object, forKey: id) != nil { duplicates.insert(id) }
        }
        let headerRetryAfter = response.retryAfter.flatMap { RetryAfterParser.parse($0, now: now) }
        for id in attemptIDs {
            if duplicates.contains(id) {
                reply.outcomes[id] = .retryable(
                    kind: .invalidResponse, message: "the batch reply holds more than one element for this attempt", httpStatus: status,
                    retryAfter: nil, excerpt: "")
                continue
            }
            guard let object = found[id] else {
                reply.outcomes[id] = .retryable(
                    kind: .invalidResponse, message: "the batch reply holds no element for this attempt", httpStatus: status,
                    retryAfter: nil, excerpt: "")
                continue
            }
            reply.outcomes[id] =
                `protocol` == .jsonrpc
                ? jsonrpcElement(object, id: id, status: status, now: now)
                : httpElement(object, status: status, defaultRetryAfter: headerRetryAfter, now: now)
        }
        reply.duplicateIDs = attemptIDs.filter { duplicates.contains($0) }
        return reply
    }

    private func all(_ ids: [Int64], _ outcome: CallOutcome) -> Reply {
        Reply(outcomes: Dictionary(uniqueKeysWithValues: ids.map { ($0, outcome) }))
    }

    private func jsonrpcElement(_ object: [String: Any], id: Int64, status: Int, now: Date) -> CallOutcome {
        // The excerpt is made only for a failure: serialising every successful element costs more than the rest.
        switch classifier.classifyJSONRPC(object: object, attemptID: id, status: status, excerpt: "") {
        case .succeeded(let status, let excerpt):
            return .succeeded(status: status, excerpt: excerpt)
        case .permanent(let kind, let message, let httpStatus, _):
            return .permanent(kind: kind, message: message, httpStatus: httpStatus, excerpt: excerpt(of: object))
        case .retryable(let kind, let message, let httpStatus, _, _):
            let data = (object["error"] as? [String: Any])?["data"] as? [String: Any]
            return .retryable(
                kind: kind, message: message, httpStatus: httpStatus, retryAfter: Self.retryAfter(data?["retry_after"], now: now),
                excerpt: excerpt(of: object))
        }
    }

    private func httpElement(_ object: [String: Any], status: Int, defaultRetryAfter: Duration?, now: Date) -> CallOutcome {
        let error = (object["error"] as? String).map { String($0.prefix(200)) } ?? ""
        let detail = error.isEmpty ? "" : ": \(error)"
        switch object["status"] as? String {
        case "ok":
            return .succeeded(status: status, excerpt: "")
        case "retry":
            return .retryable(
                kind: .batchResult, message: "the target answered retry\(detail)", httpStatus: status,
                retryAfter: Self.retryAfter(object["retry_after"], now: now) ?? defaultRetryAfter, excerpt: excerpt(of: object))
        case "fail":
            return .permanent(kind: .batchResult, message: "the target answered fail\(detail)", httpStatus: status, excerpt: excerpt(of: object))
        default:
            return .permanent(
                kind: .invalidResponse, message: "not a valid batch reply: the element's \"status\" is not \"ok\", \"retry\" or \"fail\"",
                httpStatus: status, excerpt: excerpt(of: object))
        }
    }

    /// The element as compact JSON, bounded like any excerpt.
    private func excerpt(of object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "" }
        return ResponseExcerpt.make(Array(data), maxBytes: classifier.excerptBytes)
    }

    /// An element's id: an integral number or a string of digits.
    static func attemptID(_ value: Any?) -> Int64? {
        if let number = value as? NSNumber {
            let id = number.int64Value
            return number.doubleValue == Double(id) ? id : nil
        }
        if let text = value as? String, !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return Int64(text)
        }
        return nil
    }

    /// `retry_after` as seconds (a number, fractions allowed) or as a `Retry-After` header value (text).
    static func retryAfter(_ value: Any?, now: Date) -> Duration? {
        if let text = value as? String { return RetryAfterParser.parse(text, now: now) }
        if let number = value as? NSNumber, number.doubleValue.isFinite, number.doubleValue >= 0 {
            return .milliseconds(Int64((min(number.doubleValue, 1e9) * 1000).rounded()))
        }
        return nil
    }
}
