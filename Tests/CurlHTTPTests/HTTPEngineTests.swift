import Foundation
import LoopbackHTTPServer
import Testing

@testable import CurlHTTP

/// The engine against a real HTTP server on loopback. Serialized so that timing checks are not
/// disturbed by the 2,000-request test.
@Suite(.serialized)
struct HTTPEngineTests {
    @Test func postsHeadersAndBodyAndReadsTheResponse() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let request = HTTPRequest(
                method: .post,
                url: server.baseURL + "/echo",
                headers: ["Content-Type": "application/json", "X-Custom": "value 1"],
                body: Array(#"{"a":1}"#.utf8)
            )
            let response = try await engine.execute(request)
            #expect(response.status == 200)
            #expect(response.contentType == "application/json")
            #expect(response.bodyTruncated == false)
            #expect(response.httpVersion == "1.1")
            let echo = try Echo.decode(response)
            #expect(echo.method == "POST")
            #expect(echo.uri == "/echo")
            #expect(echo.body == #"{"a":1}"#)
            #expect(echo.header("X-Custom") == "value 1")
            #expect(echo.header("Content-Type") == "application/json")
            #expect(echo.header("User-Agent") == "AsyncTask")
            #expect(echo.header("Expect") == nil)
        }
    }

    /// One kept easy handle serves different requests in turn: a handle that keeps the options
    /// of an equal request must not carry any option over to a different one.
    @Test func aReusedEasyHandleCarriesNoOptionsOverToADifferentRequest() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine(HTTPEngine.Configuration(maxIdleEasyHandles: 1)) { engine in
            let url = server.baseURL + "/echo"
            let post = HTTPRequest(method: .post, url: url, headers: ["X-Only-Post": "1"], body: Array("body".utf8))
            let get = HTTPRequest(url: url + "?q=1")
            for round in 0..<3 {
                let posted = try Echo.decode(try await engine.execute(post))
                #expect(posted.method == "POST", "round \(round)")
                #expect(posted.body == "body")
                #expect(posted.header("X-Only-Post") == "1")
                // The same request twice keeps the handle's options; then a different one resets them.
                let postedAgain = try Echo.decode(try await engine.execute(post))
                #expect(postedAgain.method == "POST")
                #expect(postedAgain.body == "body")
                let got = try Echo.decode(try await engine.execute(get))
                #expect(got.method == "GET")
                #expect(got.uri == "/echo?q=1")
                #expect(got.body == "")
                #expect(got.header("X-Only-Post") == nil)
                let head = try await engine.execute(HTTPRequest(method: .head, url: url))
                #expect(head.status == 200)
                #expect(head.body.isEmpty)
            }
            // Requests that differ only in header lines and body (as two calls of one target do) reuse the
            // handle without a reset: each must carry exactly its own headers and body, none of the previous.
            let calls: [(headers: HTTPHeaders, body: String)] = [
                (["X-Attempt": "1", "X-Only-First": "yes"], #"{"n":1}"#),
                (["X-Attempt": "2"], #"{"n":22}"#),
                (["X-Attempt": "3", "Content-Type": "application/json"], "x"),
                (["X-Attempt": "3", "Content-Type": "application/json"], "x"),
            ]
            for (index, call) in calls.enumerated() {
                let echo = try Echo.decode(
                    try await engine.execute(
                        HTTPRequest(method: .post, url: url, headers: call.headers, body: Array(call.body.utf8))))
                #expect(echo.method == "POST", "call \(index)")
                #expect(echo.body == call.body, "call \(index)")
                #expect(echo.header("X-Attempt") == call.headers["X-Attempt"], "call \(index)")
                #expect(echo.header("X-Only-First") == call.headers["X-Only-First"], "call \(index)")
                #expect(echo.header("Content-Type") == call.headers["Content-Type"], "call \(index)")
            }
            // A failed transfer resets its handle; the next equal request still works.
            let refused = HTTPRequest(url: "http://127.0.0.1:1/", connectTimeout: .seconds(2))
            #expect(await failure(of: refused, on: engine) != nil)
            #expect(try Echo.decode(try await engine.execute(get)).method == "GET")
        }
    }

    @Test(
        arguments: [
            ("http://h", nil), ("HTTPS://h/x", nil), ("hTtP://h:1/a?b#c", nil), ("http://[::1]:8/x", nil),
            ("http://", HTTPClientError.Code.invalidURL), ("http:///x", .invalidURL), ("http://?q", .invalidURL),
            ("http:/h", .invalidURL), ("h", .invalidURL), ("http:h//x", .invalidURL),
            ("://h", .unsupportedScheme), ("htt://h", .unsupportedScheme), ("httpx://h", .unsupportedScheme),
            ("a:b://h", .unsupportedScheme), ("http:://h", .unsupportedScheme), ("ftp://h", .unsupportedScheme),
        ] as [(String, HTTPClientError.Code?)])
    func validatesURLs(url: String, expected: HTTPClientError.Code?) {
        do throws(HTTPClientError) {
            try RequestValidator.validateURL(url)
            #expect(expected == nil, "\(url) was accepted")
        } catch {
            #expect(error.code == expected, "\(url): \(error)")
        }
    }

    /// The engine thread carries its own name, so `top -H` and perf tell it from the pool's threads.
    @Test func theEngineThreadIsNamed() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            // One answered request proves the thread is up (and named: it names itself before taking work).
            #expect(try await engine.execute(HTTPRequest(url: server.baseURL + "/echo")).status == 200)
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
            let names = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(names.contains("asynctask-http"), "thread names: \(Set(names).sorted())")
        }
    }

    @Test func parsesResponseHeaderBlocks() {
        let block = Array("Content-Type:  text/plain \r\nX-Empty:\r\nno colon here\r\nX-Tab:\tv\t\r\n\r\n".utf8)
        let headers = HTTPHeaders(parsingHeaderBlock: block)
        #expect(headers.fields.map(\.name) == ["Content-Type", "X-Empty", "X-Tab"])
        #expect(headers["content-type"] == "text/plain")
        #expect(headers["X-Empty"] == "")
        #expect(headers["X-Tab"] == "v")
        #expect(HTTPHeaders(parsingHeaderBlock: []).count == 0)
    }

    @Test func returnsErrorStatusesWithRetryAfter() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let notFound = try await engine.execute(HTTPRequest(url: server.baseURL + "/status/404?body=nope"))
            #expect(notFound.status == 404)
            #expect(String(decoding: notFound.body, as: UTF8.self) == "nope")
            #expect(notFound.retryAfter == nil)

            let unavailable = try await engine.execute(HTTPRequest(url: server.baseURL + "/status/503?retry_after=120"))
            #expect(unavailable.status == 503)
            #expect(unavailable.retryAfter == "120")

            let tooMany = try await engine.execute(
                HTTPRequest(
                    url: server.baseURL + "/status/429?retry_after=Wed,%2021%20Oct%202015%2007:28:00%20GMT&content_type=text/plain;%20charset=utf-8")
            )
            #expect(tooMany.status == 429)
            #expect(tooMany.retryAfter == "Wed, 21 Oct 2015 07:28:00 GMT")
            #expect(tooMany.contentType == "text/plain")
        }
    }

    @Test func connectionRefusedIsConnectFailed() async throws {
        let server = try await LoopbackHTTPServer.start()
        let url = server.baseURL + "/echo"
        try await server.stop()
        try await withRunningEngine { engine in
            let error = await failure(of: HTTPRequest(url: url), on: engine)
            #expect(error?.code == .connectFailed)
            #expect(error?.curlCode == 7)
            #expect(error?.detail.contains("127.0.0.1") == true)
        }
    }

    @Test func timeoutFiresWithinTenPercentWhenTheServerNeverAnswers() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let request = HTTPRequest(url: server.baseURL + "/hang", timeout: .seconds(1))
            let (error, elapsed) = await measure { await failure(of: request, on: engine) }
            #expect(error?.code == .timeout)
            #expect(elapsed >= 0.95 && elapsed <= 1.1, "timed out after \(elapsed) s")
        }
    }

    @Test func drippingServerCompletesWithinTheTimeoutAndTimesOutPastIt() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            // 10 bytes, one every 50 ms: about 0.5 s in all.
            let slowButInTime = try await engine.execute(
                HTTPRequest(url: server.baseURL + "/drip?bytes=10&interval_ms=50", timeout: .seconds(3))
            )
            #expect(slowButInTime.status == 200)
            #expect(slowButInTime.body == Array(repeating: UInt8(ascii: "x"), count: 10))

            // Bytes keep arriving, but the total timeout still fires.
            let request = HTTPRequest(url: server.baseURL + "/drip?bytes=40&interval_ms=50", timeout: .milliseconds(600))
            let (error, elapsed) = await measure { await failure(of: request, on: engine) }
            #expect(error?.code == .timeout)
            #expect(elapsed >= 0.57 && elapsed <= 0.66, "timed out after \(elapsed) s")
        }
    }

    @Test func hugeBodyIsCutAtTheCapWithoutBuffering() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let cap = 1 << 20
            // Warm up allocator and connection so that the RSS check sees only this transfer.
            _ = try await engine.execute(HTTPRequest(url: server.baseURL + "/big?bytes=\(cap)"))
            let before = residentBytes()
            let response = try await engine.execute(
                HTTPRequest(url: server.baseURL + "/big?bytes=\(50 << 20)", maxResponseBytes: cap)
            )
            let grown = residentBytes() - before
            #expect(response.status == 200)
            #expect(response.bodyTruncated)
            #expect(response.body.count == cap)
            #expect(grown < 8 << 20, "RSS grew by \(grown) bytes")

            let exact = try await engine.execute(HTTPRequest(url: server.baseURL + "/big?bytes=4096", maxResponseBytes: 4096))
            #expect(exact.bodyTruncated == false)
            #expect(exact.body.count == 4096)
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let response = try await engine.execute(HTTPRequest(url: server.baseURL + "/redirect"))
            #expect(response.status == 302)
            #expect(response.headers["location"] == "/echo")
            #expect(String(decoding: response.body, as: UTF8.self) == "moved")
            #expect(server.requestsReceived == 1)
        }
    }

    @Test func bytesThatAreNotHTTPAreAProtocolError() async throws {
        let server = try await LoopbackHTTPServer.startRaw(reply: Array("SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n".utf8))
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let error = await failure(of: HTTPRequest(url: server.baseURL + "/"), on: engine)
            #expect(error?.code == .protocolError)
        }
    }

    @Test func rejectsBadURLsSchemesAndHeadersBeforeSending() async throws {
        try await withRunningEngine { engine in
            #expect(await failure(of: HTTPRequest(url: "ftp://127.0.0.1/file"), on: engine)?.code == .unsupportedScheme)
            #expect(await failure(of: HTTPRequest(url: "file:///etc/passwd"), on: engine)?.code == .unsupportedScheme)
            #expect(await failure(of: HTTPRequest(url: "127.0.0.1:80/x"), on: engine)?.code == .invalidURL)
            #expect(await failure(of: HTTPRequest(url: "http://127.0.0.1/a b"), on: engine)?.code == .invalidURL)
            #expect(await failure(of: HTTPRequest(url: "http:///path"), on: engine)?.code == .invalidURL)
            let injected = HTTPRequest(url: "http://127.0.0.1:1/", headers: ["X-A": "1\r\nX-Injected: 2"])
            #expect(await failure(of: injected, on: engine)?.code == .invalidRequest)
            let badName = HTTPRequest(url: "http://127.0.0.1:1/", headers: ["X A": "1"])
            #expect(await failure(of: badName, on: engine)?.code == .invalidRequest)
        }
    }

    @Test func unresolvableHostIsDNSFailed() async throws {
        try await withRunningEngine { engine in
            // .invalid never resolves (RFC 6761); resolution fails locally, no traffic leaves the machine.
            let error = await failure(of: HTTPRequest(url: "http://no-such-host.invalid/", timeout: .seconds(5)), on: engine)
            #expect(error?.code == .dnsFailed)
        }
    }

    @Test func twoThousandConcurrentRequestsReuseKeptAliveConnections() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let maxConnections = 32
        try await withRunningEngine(HTTPEngine.Configuration(maxConnectionsPerHost: maxConnections, connectionCacheSize: 64)) { engine in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<2000 {
                    group.addTask {
                        try await engine.execute(HTTPRequest(url: server.baseURL + "/status/200?body=\(index)", timeout: .seconds(30))).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.count == 2000)
            #expect(statuses.allSatisfy { $0 == 200 })
            let statistics = engine.statistics
            #expect(statistics.responses == 2000)
            #expect(statistics.failures == 0)
            #expect(statistics.inFlight == 0)
            #expect(statistics.connectionsOpened >= 1 && statistics.connectionsOpened <= maxConnections)
            #expect(statistics.connectionsReused >= 2000 - maxConnections)
            #expect(server.connectionsAccepted == statistics.connectionsOpened)
            #expect(statistics.engineThreadCPUTime != nil)
        }
    }

    @Test func cancellingTheTaskAbortsTheTransfer() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let task = Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang", timeout: .seconds(30)), on: engine) }
            while server.requestsReceived < 1 { try await Task.sleep(for: .milliseconds(10)) }
            let (error, elapsed) = await measure {
                task.cancel()
                return await task.value
            }
            #expect(error?.code == .cancelled)
            #expect(elapsed < 0.5)
            // The aborted transfer's connection is closed, not returned to the cache.
            for _ in 0..<100 where server.connectionsOpen > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionsOpen == 0)
            #expect(engine.statistics.inFlight == 0)

            let alreadyCancelled = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine)
            }
            #expect(await alreadyCancelled.value?.code == .cancelled)
        }
    }

    @Test func requestsMadeBeforeRunWaitForIt() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let engine = HTTPEngine()
        let early = Task { try await engine.execute(HTTPRequest(url: server.baseURL + "/echo")).status }
        try await Task.sleep(for: .milliseconds(100))
        let runner = Task { try await engine.run() }
        #expect(try await early.value == 200)
        runner.cancel()
        try await runner.value
        #expect(await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine)?.code == .shutdown)
    }
}
