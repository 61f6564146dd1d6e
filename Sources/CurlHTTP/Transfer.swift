import AsyncTaskCore
import CCurl
import CCurlShims

/// The continuation through which a caller of ``HTTPEngine/execute(_:)`` waits.
typealias ResponseContinuation = CheckedContinuation<Result<CompletedResponse, HTTPClientError>, Never>

/// The options of a request that a reused easy handle can only change through a reset: everything
/// but the header lines, the body and the total timeout (set for each transfer: what is left of it at the start).
struct EasyOptions: Equatable {
    var method: HTTPMethod
    var url: String
    var connectTimeout: Duration
    var tls: TLSOptions
    var httpVersion: HTTPVersionPreference
    /// ``HTTPRequest/sendsBody``: for `GET` it decides between `CURLOPT_HTTPGET` and a body.
    var sendsBody: Bool

    init(_ request: HTTPRequest) {
        method = request.method
        url = request.url
        connectTimeout = request.connectTimeout
        tls = request.tls
        httpVersion = request.httpVersion
        sendsBody = request.sendsBody
    }
}

/// Everything of a request that libcurl holds in an easy handle (the per-transfer pointers and the
/// body cap aside): kept with the handle so that the next request only sets what differs.
struct EasyConfiguration: Equatable {
    var options: EasyOptions
    var headerLines: [String]
    var body: [UInt8]

    init(_ prepared: PreparedRequest) {
        options = EasyOptions(prepared.request)
        headerLines = prepared.headerLines
        body = prepared.request.body
    }
}

/// What the engine thread hands a caller for a completed exchange: the response with its
/// header block still raw, so that parsing it costs the caller's thread, not the engine's.
struct CompletedResponse: Sendable {
    var status: Int
    /// The last header block as received (one `Name: value` line per CRLF; no status line).
    var rawHeaders: [UInt8]
    var body: [UInt8]
    var bodyTruncated: Bool
    var httpVersion: String
    var totalTime: Duration
    var newConnections: Int

    /// The public response, with the header block parsed.
    func response() -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: HTTPHeaders(parsingHeaderBlock: rawHeaders),
            body: body,
            bodyTruncated: bodyTruncated,
            httpVersion: httpVersion,
            totalTime: totalTime,
            newConnections: newConnections
        )
    }
}

/// One request in flight on the engine thread: its easy handle, the caller's continuation and
/// the response as it arrives. Confined to the engine thread.
///
/// libcurl's callbacks reach it through an unretained `Unmanaged` pointer; the engine loop's
/// `active` table holds the strong reference for as long as the easy handle is in the multi handle.
final class Transfer {
    /// The most header bytes kept from one response; past this the transfer is aborted.
    static let maxHeaderBytes = 64 * 1024

    let id: UInt64
    let easy: CurlEasyHandle
    private var continuation: ResponseContinuation?
    private let maxResponseBytes: Int

    /// The current header block, raw (an interim or proxy block is dropped when the next begins).
    private(set) var rawHeaders: [UInt8] = []
    private var headerBytes = 0
    private(set) var headerOverflow = false
    private(set) var body: [UInt8] = []
    private(set) var bodyTruncated = false

    init(id: UInt64, easy: CurlEasyHandle, continuation: ResponseContinuation, maxResponseBytes: Int) {
        self.id = id
        self.easy = easy
        self.continuation = continuation
        self.maxResponseBytes = max(0, maxResponseBytes)
    }

    deinit {
        if let continuation {
            // Unreachable by construction; a lost caller would hang forever, so fail it instead.
            continuation.resume(returning: .failure(HTTPClientError(code: .other, detail: "transfer dropped")))
        }
    }

    /// Hands over the caller's continuation, once; later calls return `nil`.
    func takeContinuation() -> ResponseContinuation? {
        defer { continuation = nil }
        return continuation
    }

    /// libcurl's error text for the last failure, or its generic text for `code`.
    func errorText(_ code: CURLcode) -> String {
        let specific = String(cString: easy.errorBuffer)
        return specific.isEmpty ? String(cString: curl_easy_strerror(code)) : specific
    }

    // MARK: Options

    /// Sets the options of `prepared` on the easy handle. A handle that still holds the options of
    /// a request to the same URL with the same method, connect timeout, TLS and version only gets the header
    /// lines and body that differ (requests of one target differ in little else); any other handle
    /// is reset and set up in full. The per-transfer pointers and `timeout`, what is left of the request's
    /// own after its wait in the engine's queue, are set either way.
    func configure(_ prepared: PreparedRequest, timeout: Duration, engine configuration: HTTPEngine.Configuration) throws(HTTPClientError) {
        let wanted = EasyConfiguration(prepared)
        if let current = easy.configuration, current.options == wanted.options {
            if current.headerLines != wanted.headerLines { try configureHeaders(wanted.headerLines) }
            if current.body != wanted.body { try configureBody(prepared.request) }
        } else {
            if easy.configuration != nil { easy.reset() }
            try configureOptions(prepared, engine: configuration)
        }
        try easy.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout))
        // A failure above leaves the handle half set up; the engine loop resets it then.
        easy.configuration = wanted
        let context = Unmanaged.passUnretained(self).toOpaque()
        try easy.set(CURLOPT_PRIVATE, pointer: context)
        try easy.set(CURLOPT_WRITEDATA, pointer: context)
        try easy.set(CURLOPT_HEADERDATA, pointer: context)
        // libcurl writes the buffer only on failure: clear what an earlier transfer left.
        easy.errorBuffer[0] = 0
    }

    /// Clears the pointers to this transfer from a handle that keeps its options, so that
    /// libcurl holds no pointer into a finished transfer.
    func detachFromHandle() {
        _ = try? easy.set(CURLOPT_PRIVATE, pointer: nil)
        _ = try? easy.set(CURLOPT_WRITEDATA, pointer: nil)
        _ = try? easy.set(CURLOPT_HEADERDATA, pointer: nil)
    }

    private func configureOptions(_ prepared: PreparedRequest, engine configuration: HTTPEngine.Configuration) throws(HTTPClientError) {
        let request = prepared.request
        try easy.set(CURLOPT_URL, request.url)
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_FOLLOWLOCATION, 0)
        // No signals from a library running on a thread of a multi-threaded process.
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(easy.errorBuffer))
        try easy.set(CURLOPT_WRITEFUNCTION, callback: transferWriteCallback)
        try easy.set(CURLOPT_HEADERFUNCTION, callback: transferHeaderCallback)
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
        // An empty proxy string disables proxies, including those from environment variables.
        try easy.set(CURLOPT_PROXY, configuration.proxy ?? "")

        switch request.httpVersion {
        case .negotiate: try easy.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        case .http1_1: try easy.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        case .http2PriorKnowledge:
            try easy.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
            // Known to multiplex: wait for the connection being set up rather than open another.
            // Not done for negotiated versions: libcurl 7.88 learns that an HTTP/1.1 connection
            // cannot multiplex only from its first response, so one slow response would hold
            // every other request to that host back.
            try easy.set(CURLOPT_PIPEWAIT, 1)
        }

        try configureTLS(request.tls)
        try configureMethod(request)
        try configureBody(request)
        try configureHeaders(prepared.headerLines)
    }

    private func configureTLS(_ tls: TLSOptions) throws(HTTPClientError) {
        try easy.set(CURLOPT_SSL_VERIFYPEER, tls.insecureSkipVerify ? 0 : 1)
        try easy.set(CURLOPT_SSL_VERIFYHOST, tls.insecureSkipVerify ? 0 : 2)
        if let caFile = tls.caFile { try easy.set(CURLOPT_CAINFO, caFile) }
        if let certFile = tls.certFile { try easy.set(CURLOPT_SSLCERT, certFile) }
        if let keyFile = tls.keyFile { try easy.set(CURLOPT_SSLKEY, keyFile) }
    }

    private func configureMethod(_ request: HTTPRequest) throws(HTTPClientError) {
        switch request.method {
        case .head:
            try easy.set(CURLOPT_NOBODY, 1)
        case .get where !request.sendsBody:
            try easy.set(CURLOPT_HTTPGET, 1)
        case .post:
            break  // set by the body
        default:
            try easy.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
    }

    /// Sets the body of a request that ``HTTPRequest/sendsBody``; nothing for the others.
    private func configureBody(_ request: HTTPRequest) throws(HTTPClientError) {
        guard request.sendsBody else { return }
        // COPYPOSTFIELDS copies the bytes (POSTFIELDSIZE first, so binary bodies keep their length).
        try easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(request.body.count))
        let code = request.body.withUnsafeBytes { bytes in
            // An empty body still needs a valid pointer.
            let base = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
            return ccurl_easy_setopt_pointer(easy.handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
        }
        if code != CURLE_OK {
            throw HTTPClientError(code: .other, curlCode: Int(code.rawValue), detail: "cannot copy the request body")
        }
    }

    /// Replaces the handle's header list; the one it replaces is freed only after libcurl holds the new one.
    private func configureHeaders(_ lines: [String]) throws(HTTPClientError) {
        let headerList = CurlHeaderList()
        for line in lines where !headerList.append(line) {
            throw HTTPClientError(code: .other, detail: "out of memory building the header list")
        }
        try easy.set(CURLOPT_HTTPHEADER, list: headerList)
        // Kept by the handle: libcurl points into the list until the handle is reset or given another.
        easy.headerList = headerList
    }

    /// Whole milliseconds, at least 1 (0 means "no timeout" to libcurl).
    private static func milliseconds(_ duration: Duration) -> Int {
        Int(clamping: max(1, duration.millisecondsRoundedUp))
    }

    // MARK: Callbacks (engine thread, inside curl_multi_perform)

    /// Stores body bytes up to the cap; returns fewer bytes than given to make libcurl abort
    /// the transfer once the body is over the cap.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        let room = maxResponseBytes - body.count
        if bytes.count <= room {
            body.append(contentsOf: bytes)
            return bytes.count
        }
        body.append(contentsOf: bytes.prefix(room))
        bodyTruncated = true
        return 0
    }

    /// Keeps one header line (libcurl delivers them one at a time, with CRLF); parsing is left
    /// to the caller (``CompletedResponse/response()``).
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        headerBytes += bytes.count
        if headerBytes > Self.maxHeaderBytes {
            headerOverflow = true
            return 0
        }
        if bytes.starts(with: "HTTP/".utf8) {
            // A new status line: an interim (1xx) or proxy response came before; keep only the last block.
            rawHeaders.removeAll(keepingCapacity: true)
            if rawHeaders.capacity == 0 { rawHeaders.reserveCapacity(512) }
            return bytes.count
        }
        rawHeaders.append(contentsOf: bytes)
        return bytes.count
    }
}

extension HTTPHeaders {
    /// Parses a raw header block: CRLF- (or LF-) separated `Name: value` lines; lines without a
    /// colon are skipped, values are trimmed of spaces and tabs.
    init(parsingHeaderBlock block: [UInt8]) {
        self.init()
        var lineStart = block.startIndex
        while lineStart < block.endIndex {
            let lineEnd = block[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? block.endIndex
            var line = block[lineStart..<lineEnd]
            lineStart = lineEnd < block.endIndex ? lineEnd + 1 : lineEnd
            while let last = line.last, last == UInt8(ascii: "\r") || last == UInt8(ascii: "\n") { line = line.dropLast() }
            guard !line.isEmpty, let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingASCIIWhitespace()
            add(name: name, value: value)
        }
    }
}

/// `CURLOPT_WRITEFUNCTION`: `userdata` is the transfer (unretained, kept alive by the engine loop).
private let transferWriteCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let length = size * count
    guard let data, length > 0 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: length))
}

/// `CURLOPT_HEADERFUNCTION`: one header line per call; `userdata` as for the write callback.
private let transferHeaderCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let length = size * count
    guard let data, length > 0 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
}
