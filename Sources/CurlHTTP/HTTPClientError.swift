/// Why an HTTP request produced no response.
///
/// `description` is deliberately terse (the code and libcurl's error number) so that nothing
/// from the request reaches logs by accident; ``detail`` holds libcurl's error text.
public struct HTTPClientError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case connectFailed, dnsFailed, tlsFailed, timeout, cancelled, shutdown
            case invalidURL, unsupportedScheme, invalidRequest, connectionLost, protocolError, other
        }

        let base: Base

        /// The TCP connection could not be established (refused, unreachable).
        public static let connectFailed = Code(base: .connectFailed)
        /// The host name could not be resolved.
        public static let dnsFailed = Code(base: .dnsFailed)
        /// The TLS handshake or the verification of the server certificate failed,
        /// or the TLS files could not be used.
        public static let tlsFailed = Code(base: .tlsFailed)
        /// The connect timeout or the total timeout fired.
        public static let timeout = Code(base: .timeout)
        /// The calling task was cancelled; the transfer was aborted.
        public static let cancelled = Code(base: .cancelled)
        /// The engine is shutting down or has stopped.
        public static let shutdown = Code(base: .shutdown)
        /// The URL is malformed.
        public static let invalidURL = Code(base: .invalidURL)
        /// The URL's scheme is neither `http` nor `https`.
        public static let unsupportedScheme = Code(base: .unsupportedScheme)
        /// The request itself is unusable (e.g. a header value holding CR or LF).
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The connection broke or closed before a complete response arrived.
        public static let connectionLost = Code(base: .connectionLost)
        /// The server's reply was not valid HTTP.
        public static let protocolError = Code(base: .protocolError)
        /// Anything else; see ``HTTPClientError/detail``.
        public static let other = Code(base: .other)

        /// The code's name, e.g. `connectFailed`.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// libcurl's `CURLcode`, when libcurl reported the failure.
    public var curlCode: Int?
    /// A human-readable explanation: libcurl's error text or the engine's own. Holds host names
    /// and ports but never the URL's path, query or credentials, nor header values.
    public var detail: String

    /// Creates an error.
    public init(code: Code, curlCode: Int? = nil, detail: String) {
        self.code = code
        self.curlCode = curlCode
        self.detail = detail
    }

    /// The code and libcurl's error number only.
    public var description: String {
        if let curlCode {
            return "HTTPClientError.\(code) (curl \(curlCode))"
        }
        return "HTTPClientError.\(code)"
    }

    /// The code, libcurl's error number and the detail text.
    public var debugDescription: String {
        "\(description): \(detail)"
    }
}
