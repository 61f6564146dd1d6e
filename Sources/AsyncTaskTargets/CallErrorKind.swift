/// The kind of a failed call, as recorded in `last_error` and sent in the webhook's `error.kind`.
public enum CallErrorKind: String, Sendable, Hashable, CaseIterable {
    /// The target answered with a status that is not 2xx.
    case httpStatus = "http_status"
    /// The TCP connection could not be established.
    case connect
    /// The target's host name did not resolve.
    case dns
    /// The TLS handshake or certificate verification failed.
    case tls
    /// The connect or total timeout fired.
    case timeout
    /// The connection broke before a complete response.
    case connection
    /// The reply was not valid HTTP.
    case `protocol`
    /// A JSON-RPC reply carried an `error` member.
    case jsonrpcError = "jsonrpc_error"
    /// A 2xx reply that is not a valid JSON-RPC response (or too large to check), or a batch reply without a
    /// usable result for the attempt.
    case invalidResponse = "invalid_response"
    /// The attempt's element of an `http` batch reply said `retry` or `fail`.
    case batchResult = "batch_result"
    /// The attempt's method name is not allowed (it could steer the call elsewhere).
    case invalidMethodName = "invalid_method_name"
    /// The attempt's arguments are not the JSON the protocol needs.
    case invalidArguments = "invalid_arguments"
    /// The request could not be built or was refused before sending (e.g. a bad idempotency key).
    case invalidRequest = "invalid_request"
    /// The call was cancelled (the node is stopping).
    case cancelled
    /// The HTTP engine was shutting down.
    case shutdown
    /// Anything else.
    case `internal`
}
