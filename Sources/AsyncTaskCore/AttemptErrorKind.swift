/// Why a try of an attempt failed: every kind the system writes, in `last_error_kind`, in the try history's
/// `error_kind`, as the `kind:` prefix of `last_error`, and in the webhook's `error.kind`.
///
/// The raw values are the stable wire strings: rows, webhook receivers and operators' queries read them, so a
/// case may be added but never renamed (`AttemptErrorKindTests` lists each one).
public enum AttemptErrorKind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    // Failures of the call itself (classified from the HTTP exchange).

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
    /// The call was cancelled (the node is stopping). Never recorded: the lease is given back instead.
    case cancelled
    /// The HTTP engine was shutting down. Never recorded: the lease is given back instead.
    case shutdown
    /// Anything else.
    case `internal`

    // Failures decided by the node before any call.

    /// The attempt was claimed more often than `max_attempts` allows without a recorded outcome (earlier
    /// tries lost their leases to crashed nodes).
    case triesExhausted = "tries_exhausted"
    /// The attempt's encrypted arguments could not be opened with the node's keys.
    case decryption
    /// The attempt's arguments, written by the async_task gem as YAML into an adopted table, have no JSON form.
    case argumentsUndecodable = "arguments_undecodable"

    // Kinds only the webhook event trigger (schema v3) writes into an event's `error.kind`.

    /// An operator expired the attempt (`attempt.expired` with no new error).
    case expired
    /// An operator failed the attempt, which had no recorded error kind.
    case `operator`

    /// The wire string.
    public var description: String { rawValue }
}
