public import AsyncTaskCore
public import CurlHTTP
import Foundation

/// Builds the HTTP request of a ``TargetCall`` to a ``TargetConfiguration`` (DESIGN §4).
public enum TargetRequestBuilder {
    /// Why a call's request could not be built; always a permanent failure of the attempt.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        /// ``AttemptErrorKind/invalidMethodName``, ``AttemptErrorKind/invalidArguments`` or ``AttemptErrorKind/invalidRequest``.
        public var kind: AttemptErrorKind
        /// A short human message (never the arguments themselves).
        public var message: String

        /// Creates an error.
        public init(kind: AttemptErrorKind, message: String) {
            self.kind = kind
            self.message = message
        }

        /// The message.
        public var description: String { message }
    }

    /// Headers the builder sets on every call; static headers may not replace them.
    public static let reservedHeaders: Set<String> = [
        "content-type", "content-length", "host", "transfer-encoding", "idempotency-key",
        "asynctask-attempt-id", "asynctask-attempt-number", "traceparent", "asynctask-batch-size",
    ]

    /// The request for `call`: `POST {url}/{method}` (http) or `POST {url}` with a JSON-RPC 2.0
    /// envelope (jsonrpc), with the contract's headers and the target's static headers.
    /// - Throws: ``TargetRequestBuilder/Error`` for a method name that ``MethodName`` rejects,
    ///   arguments that are not JSON (an object or array for jsonrpc), or an unusable idempotency key.
    public static func makeRequest(for call: TargetCall, to target: TargetConfiguration) throws(TargetRequestBuilder.Error) -> HTTPRequest {
        try checkMethodName(call.methodName)
        let (key, arguments, parsed) = try checkedParts(of: call)

        let url: String
        let body: [UInt8]
        switch target.protocol {
        case .http:
            url = methodURL(of: target, call.methodName)
            body = arguments
        case .jsonrpc:
            try checkJSONRPCParams(parsed)
            url = target.url
            // The method name is plain ASCII without quotes or backslashes (checked above), so it needs no escaping.
            body =
                Array(#"{"jsonrpc":"2.0","method":""#.utf8) + Array(call.methodName.utf8)
                + Array(#"","params":"#.utf8) + arguments + Array(#","id":\#(call.attemptID)}"#.utf8)
        }

        var headers: HTTPHeaders = [
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "AsyncTask-Attempt-Id": String(call.attemptID),
            "AsyncTask-Attempt-Number": String(call.attemptNumber),
        ]
        if let traceparent = call.traceparent { headers.add(name: "traceparent", value: traceparent) }
        for field in target.headers { headers.add(name: field.name, value: field.value) }

        return HTTPRequest(
            method: .post,
            url: url,
            headers: headers,
            body: body,
            connectTimeout: target.connectTimeout,
            timeout: target.timeout,
            tls: target.tls,
            maxResponseBytes: target.maxResponseBytes,
            lane: target.name
        )
    }

    /// The method-name rule of every request, one or batched.
    /// - Throws: ``TargetRequestBuilder/Error`` of kind ``AttemptErrorKind/invalidMethodName``.
    static func checkMethodName(_ methodName: String) throws(TargetRequestBuilder.Error) {
        guard MethodName.isValid(methodName) else {
            throw Error(
                kind: .invalidMethodName,
                message:
                    "method name '\(methodName.prefix(64))' is not allowed (\(MethodName.maxLength) characters of A-Z a-z 0-9 _ . - at most, no '..')"
            )
        }
    }

    /// The per-call checks of every request, one or batched: the idempotency key, the traceparent and the
    /// arguments. Returns the key, the argument bytes (`{}` for none) and the parsed arguments.
    static func checkedParts(of call: TargetCall) throws(TargetRequestBuilder.Error) -> (key: String, arguments: [UInt8], parsed: Any) {
        let key = call.effectiveIdempotencyKey
        guard !key.isEmpty, key.utf8.count <= 1024, key.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            throw Error(kind: .invalidRequest, message: "the idempotency key is empty, longer than 1024 bytes or holds control characters")
        }
        if let traceparent = call.traceparent, !traceparent.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            throw Error(kind: .invalidRequest, message: "the traceparent is not printable ASCII")
        }
        let arguments = call.arguments.isEmpty ? Array("{}".utf8) : call.arguments
        let parsed = try? JSONSerialization.jsonObject(with: Data(arguments), options: [.fragmentsAllowed])
        guard let parsed else {
            throw Error(kind: .invalidArguments, message: "the arguments are not valid JSON")
        }
        return (key, arguments, parsed)
    }

    /// `{url}/{method}` of an `http` target (the method name is checked first).
    static func methodURL(of target: TargetConfiguration, _ methodName: String) -> String {
        target.url.hasSuffix("/") ? target.url + methodName : target.url + "/" + methodName
    }

    /// The JSON-RPC rule on params: an object or an array.
    static func checkJSONRPCParams(_ parsed: Any) throws(TargetRequestBuilder.Error) {
        guard parsed is [String: Any] || parsed is [Any] else {
            throw Error(kind: .invalidArguments, message: "JSON-RPC params must be a JSON object or array")
        }
    }
}
