import AsyncTaskCore
public import CurlHTTP
public import Foundation

/// Turns a response or a transport failure into a ``CallOutcome`` (DESIGN §4):
///
/// - 2xx succeeds; for `jsonrpc` the body must also be a valid JSON-RPC 2.0 response to this
///   attempt's id with a `result` (an `error` fails: permanently for parse error, invalid request,
///   method not found and invalid params, retryably otherwise).
/// - 408, 425, 429 and 5xx are retryable, with the `Retry-After` delay when given.
/// - Other statuses (3xx, since redirects are not followed, and other 4xx) are permanent.
/// - Connect, DNS and TLS failures, timeouts and broken connections are retryable.
public struct OutcomeClassifier: Sendable {
    /// JSON-RPC error codes that retrying cannot fix.
    public static let permanentJSONRPCCodes: Set<Int> = [-32700, -32600, -32601, -32602]

    /// The longest excerpt kept, in bytes.
    public var excerptBytes: Int

    /// Creates a classifier.
    public init(excerptBytes: Int = ResponseExcerpt.defaultMaxBytes) {
        self.excerptBytes = excerptBytes
    }

    /// Classifies a response to a call made with `protocol` for attempt `attemptID`.
    /// - Parameter now: the time against which an HTTP-date `Retry-After` is measured.
    public func classify(_ response: HTTPResponse, protocol: TargetProtocol, attemptID: Int64, now: Date) -> CallOutcome {
        let excerpt = ResponseExcerpt.make(response.body, maxBytes: excerptBytes)
        let status = response.status
        guard (200...299).contains(status) else { return classifyStatus(response, excerpt: excerpt, now: now) }
        guard `protocol` == .jsonrpc else { return .succeeded(status: status, excerpt: excerpt) }
        return classifyJSONRPC(response, attemptID: attemptID, excerpt: excerpt)
    }

    /// The rule for a response that is not 2xx, whatever was asked (one call or a batch): retryable for 408,
    /// 425, 429 and 5xx with the `Retry-After` delay, permanent otherwise.
    func classifyStatus(_ response: HTTPResponse, excerpt: String, now: Date) -> CallOutcome {
        let status = response.status
        switch status {
        case 408, 425, 429, 500...599:
            let retryAfter = response.retryAfter.flatMap { RetryAfterParser.parse($0, now: now) }
            return .retryable(kind: .httpStatus, message: "HTTP status \(status)", httpStatus: status, retryAfter: retryAfter, excerpt: excerpt)
        case 300...399:
            return .permanent(kind: .httpStatus, message: "HTTP status \(status) (redirects are not followed)", httpStatus: status, excerpt: excerpt)
        default:
            return .permanent(kind: .httpStatus, message: "HTTP status \(status)", httpStatus: status, excerpt: excerpt)
        }
    }

    /// Classifies a call that produced no response.
    public func classify(_ error: HTTPClientError) -> CallOutcome {
        let detail = String(error.detail.prefix(200))
        func retryable(_ kind: AttemptErrorKind, _ what: String) -> CallOutcome {
            .retryable(kind: kind, message: "\(what): \(detail)", httpStatus: nil, retryAfter: nil, excerpt: "")
        }
        func permanent(_ kind: AttemptErrorKind, _ what: String) -> CallOutcome {
            .permanent(kind: kind, message: "\(what): \(detail)", httpStatus: nil, excerpt: "")
        }
        switch error.code {
        case .connectFailed: return retryable(.connect, "connect failed")
        case .dnsFailed: return retryable(.dns, "host name did not resolve")
        case .tlsFailed: return retryable(.tls, "TLS failed")
        case .timeout: return retryable(.timeout, "timed out")
        case .connectionLost: return retryable(.connection, "connection lost")
        case .protocolError: return retryable(.protocol, "invalid HTTP reply")
        case .cancelled: return retryable(.cancelled, "cancelled")
        case .shutdown: return retryable(.shutdown, "HTTP engine shutting down")
        case .invalidURL, .unsupportedScheme, .invalidRequest: return permanent(.invalidRequest, "request refused")
        default: return retryable(.internal, "HTTP client error")
        }
    }

    /// Classifies a request that could not be built.
    public func classify(_ error: TargetRequestBuilder.Error) -> CallOutcome {
        .permanent(kind: error.kind, message: error.message, httpStatus: nil, excerpt: "")
    }

    private func classifyJSONRPC(_ response: HTTPResponse, attemptID: Int64, excerpt: String) -> CallOutcome {
        let status = response.status
        func invalid(_ why: String) -> CallOutcome {
            .permanent(kind: .invalidResponse, message: "not a valid JSON-RPC response: \(why)", httpStatus: status, excerpt: excerpt)
        }
        if response.bodyTruncated {
            return invalid("larger than \(response.body.count) bytes")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            return invalid("the body is not a JSON object")
        }
        return classifyJSONRPC(object: object, attemptID: attemptID, status: status, excerpt: excerpt)
    }

    /// The rule for one JSON-RPC response object (a whole reply, or one element of a batch reply) to the
    /// request of `attemptID`; `nil` as the id accepts only an error with a null id (a batch refused whole).
    func classifyJSONRPC(object: [String: Any], attemptID: Int64?, status: Int, excerpt: String) -> CallOutcome {
        func invalid(_ why: String) -> CallOutcome {
            .permanent(kind: .invalidResponse, message: "not a valid JSON-RPC response: \(why)", httpStatus: status, excerpt: excerpt)
        }
        func idMatches(_ id: Any?) -> Bool { attemptID.map { Self.idMatches(id, $0) } ?? false }
        let attemptText = attemptID.map(String.init) ?? "null"
        guard object["jsonrpc"] as? String == "2.0" else { return invalid("\"jsonrpc\" is not \"2.0\"") }
        let hasResult = object.keys.contains("result")
        let errorMember = object["error"]
        guard hasResult != (errorMember != nil) else { return invalid("it must have exactly one of \"result\" and \"error\"") }
        if hasResult {
            guard idMatches(object["id"]) else { return invalid("the id is not \(attemptText)") }
            return .succeeded(status: status, excerpt: excerpt)
        }
        // An error may carry a null id (when the server could not read the request's id).
        guard object["id"] is NSNull || idMatches(object["id"]) else { return invalid("the id is not \(attemptText)") }
        guard let error = errorMember as? [String: Any], let code = (error["code"] as? NSNumber)?.intValue else {
            return invalid("\"error\" has no integer \"code\"")
        }
        let text = (error["message"] as? String).map { String($0.prefix(200)) } ?? ""
        let message = "JSON-RPC error \(code)\(text.isEmpty ? "" : ": \(text)")"
        if Self.permanentJSONRPCCodes.contains(code) {
            return .permanent(kind: .jsonrpcError, message: message, httpStatus: status, excerpt: excerpt)
        }
        return .retryable(kind: .jsonrpcError, message: message, httpStatus: status, retryAfter: nil, excerpt: excerpt)
    }

    /// Whether a JSON-RPC `id` (a number or a string of digits) is `attemptID`.
    static func idMatches(_ id: Any?, _ attemptID: Int64) -> Bool {
        if let number = id as? NSNumber {
            return number.int64Value == attemptID && number.doubleValue == Double(attemptID)
        }
        if let text = id as? String { return text == String(attemptID) }
        return false
    }
}
