/// The response to one ``HTTPRequest``: any status, including 3xx (redirects are not followed),
/// 4xx and 5xx.
public struct HTTPResponse: Sendable {
    /// The status code of the final response (interim 1xx responses are skipped).
    public var status: Int
    /// The header fields of the final response, in order.
    public var headers: HTTPHeaders
    /// The body, at most ``HTTPRequest/maxResponseBytes`` long.
    public var body: [UInt8]
    /// Whether the body was longer than the cap and was cut (the transfer was stopped there).
    public var bodyTruncated: Bool
    /// The HTTP version spoken, e.g. `1.1` or `2`.
    public var httpVersion: String
    /// Time from the start of the transfer to its end, as measured by libcurl.
    public var totalTime: Duration
    /// How many new connections this transfer opened (0 when it reused a kept-alive one).
    public var newConnections: Int

    /// Creates a response (the engine does; tests of code that consumes responses may too).
    public init(
        status: Int,
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        bodyTruncated: Bool = false,
        httpVersion: String = "1.1",
        totalTime: Duration = .zero,
        newConnections: Int = 0
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.httpVersion = httpVersion
        self.totalTime = totalTime
        self.newConnections = newConnections
    }

    /// The raw `Retry-After` value (delta-seconds or an HTTP-date), if the server sent one.
    ///
    /// Left unparsed here: its meaning depends on the caller's clock.
    public var retryAfter: String? { headers["Retry-After"] }

    /// The media type of `Content-Type`, lowercased and without parameters (e.g. `application/json`).
    public var contentType: String? {
        guard let value = headers["Content-Type"] else { return nil }
        let mediaType = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = mediaType.trimmingASCIIWhitespace()
        return trimmed.isEmpty ? nil : trimmed.lowercased()
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
