/// One HTTP request for ``HTTPEngine/execute(_:)``.
///
/// Only `http` and `https` URLs are accepted; redirects are never followed.
public struct HTTPRequest: Sendable {
    /// The default cap on a stored response body: 1 MiB.
    public static let defaultMaxResponseBytes = 1 << 20

    /// The request method.
    public var method: HTTPMethod
    /// The absolute `http` or `https` URL.
    public var url: String
    /// Header fields to send; names must be HTTP tokens and values must not hold CR, LF or NUL.
    public var headers: HTTPHeaders
    /// The request body (sent for any method when non-empty, and always for `POST`).
    public var body: [UInt8]
    /// Limit on establishing the connection (TCP and TLS handshake).
    public var connectTimeout: Duration
    /// Limit on the whole transfer, from submission to the last byte of the response: time spent waiting in
    /// the engine's queue for a transfer slot counts.
    public var timeout: Duration
    /// TLS verification and client certificate.
    public var tls: TLSOptions
    /// The most response-body bytes kept; past this the transfer is stopped and
    /// ``HTTPResponse/bodyTruncated`` is set, so a huge body is never buffered.
    public var maxResponseBytes: Int
    /// Which HTTP version to use.
    public var httpVersion: HTTPVersionPreference
    /// The queue this request waits in when the engine already holds
    /// ``HTTPEngine/Configuration/maxActiveTransfers`` transfers: requests of one lane start in order, and
    /// the lanes take turns, so the requests of a slow lane (a worker's target) never hold back another's.
    public var lane: String

    /// Creates a request.
    public init(
        method: HTTPMethod = .get,
        url: String,
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(30),
        tls: TLSOptions = TLSOptions(),
        maxResponseBytes: Int = HTTPRequest.defaultMaxResponseBytes,
        httpVersion: HTTPVersionPreference = .negotiate,
        lane: String = ""
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.tls = tls
        self.maxResponseBytes = maxResponseBytes
        self.httpVersion = httpVersion
        self.lane = lane
    }
}

extension HTTPRequest {
    /// Whether the request goes out with a body: every method but `HEAD`, and `GET` only when it has one.
    var sendsBody: Bool {
        switch method {
        case .head: false
        case .get: !body.isEmpty
        default: true
        }
    }
}
