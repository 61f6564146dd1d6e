/// A request checked and turned into libcurl's header lines on the caller's thread, so that the
/// engine thread, which every request shares, only hands the result to libcurl.
struct PreparedRequest: Sendable {
    let request: HTTPRequest
    /// The `CURLOPT_HTTPHEADER` lines: the request's fields, then the engine's own (no `Expect`
    /// wait, no form content type, the configured user agent) unless the request sets them.
    let headerLines: [String]

    /// - Throws: ``HTTPClientError`` when the URL, method or a header is not acceptable
    ///   (see ``RequestValidator``); nothing of the request reaches libcurl then.
    init(_ request: HTTPRequest, userAgent: String?) throws(HTTPClientError) {
        try RequestValidator.validate(request)
        self.request = request
        var lines: [String] = []
        lines.reserveCapacity(request.headers.count + 3)
        for field in request.headers {
            // "Name;" is libcurl's spelling of a header with an empty value ("Name:" would remove it).
            lines.append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        // libcurl would otherwise wait for a 100-continue on bodies over 1 KiB, costing a round trip.
        if !request.headers.contains(name: "Expect") { lines.append("Expect:") }
        if !request.headers.contains(name: "Content-Type"), !request.body.isEmpty || request.method == .post {
            // Instead of libcurl's default application/x-www-form-urlencoded.
            lines.append("Content-Type:")
        }
        if !request.headers.contains(name: "User-Agent"), let userAgent {
            lines.append("User-Agent: \(userAgent)")
        }
        self.headerLines = lines
    }
}
