/// A target's configuration is invalid: names the target, the field and what is wrong.
///
/// Never includes a header value or an expanded environment variable: those may be secrets.
public struct TargetConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: String, Sendable, Hashable {
        /// A required field is absent.
        case missing
        /// The URL cannot be parsed, has no host, or has a part the protocol forbids.
        case invalidURL
        /// The URL's scheme is not `http` or `https`.
        case unsupportedScheme
        /// `protocol` is not `http` or `jsonrpc`.
        case unknownProtocol
        /// A duration cannot be read.
        case invalidDuration
        /// A duration is zero or negative.
        case nonPositiveDuration
        /// A number is out of its range (e.g. `concurrency` < 1).
        case outOfRange
        /// A `${VAR}` names a variable that is not set, or is malformed.
        case environment
        /// A header name is not an HTTP token, or its value holds a control character.
        case invalidHeader
        /// A static header would replace one the contract sets (e.g. `Idempotency-Key`).
        case reservedHeader
        /// A TLS file does not exist or cannot be read.
        case unreadableFile
        /// A `rate` cannot be read or is not more than zero.
        case invalidRate
        /// A value is not one of the words its key takes (e.g. `ordering.on_failure`).
        case unknownChoice
    }

    /// The target's name.
    public var target: String
    /// The field, as written in the config file (e.g. `timeout`, `headers.Authorization`, `tls.ca_file`).
    public var field: String
    /// The kind of problem.
    public var code: Code
    /// What is wrong, for people.
    public var reason: String

    /// Creates an error.
    public init(target: String, field: String, code: Code, reason: String) {
        self.target = target
        self.field = field
        self.code = code
        self.reason = reason
    }

    /// `target 'Orders': timeout: must be positive (got '-1s')`.
    public var description: String {
        "target '\(target)': \(field): \(reason)"
    }
}
