import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Answers each request as its path says:
///
/// - `/status/{code}` (digits of the segment, so `s404` works too) `?retry_after=V&body=TEXT&content_type=T`: that status, headers and body.
/// - `/echo`: 200 with a JSON object `{"method","uri","headers":[[name,value]…],"body"}` of the request.
/// - `/hang`: never answers.
/// - `/delay/{ms}`: 200 `done` after `ms` milliseconds.
/// - `/drip?bytes=N&interval_ms=M` (or `/drip/N/M/…`): 200 with `Content-Length: N`, one byte every `M` ms.
/// - `/big?bytes=N` (or `/big/N/…`): 200 with an N-byte body streamed in 64 KiB chunks, respecting back-pressure.
/// - `/redirect`: 302 to `/echo`; `/redirect/{port}/…`: 302 to `http://localhost:{port}/echo` (another host).
///
/// The path forms serve targets whose URL may not carry a query (a worker appends `/{method}` to the path).
/// - `/rpc`: a JSON-RPC 2.0 server whose method name picks the reply: `ok` (result echoes params),
///   `not_found` (-32601), `bad_params` (-32602), `internal` (-32603), `not_json`, `wrong_id`, `no_version`.
final class ScriptedHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let counters: ServerCounters
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bigRemaining = 0
    private var isStreaming = false
    private var isPumping = false

    init(counters: ServerCounters) {
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            counters.requests.add(1, ordering: .relaxed)
            self.head = head
            body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            route(context: context, head: head, body: body)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if isStreaming { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Routes

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        let (path, query) = Self.split(head.uri)
        let segments = path.split(separator: "/").map(String.init)
        switch segments.first {
        case "status":
            let status = Int((segments.dropFirst().first ?? "").filter(\.isNumber)) ?? 200
            var headers: [(String, String)] = []
            if let retryAfter = query["retry_after"] { headers.append(("Retry-After", retryAfter)) }
            headers.append(("Content-Type", query["content_type"] ?? "text/plain"))
            respond(context: context, status: status, headers: headers, body: Array((query["body"] ?? "").utf8))
        case "echo":
            let object: [String: Any] = [
                "method": "\(head.method)",
                "uri": head.uri,
                "headers": head.headers.map { [$0.name, $0.value] },
                "body": String(decoding: body, as: UTF8.self),
            ]
            let json = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            respond(context: context, status: 200, headers: [("Content-Type", "application/json")], body: Array(json))
        case "hang":
            break
        case "delay":
            let milliseconds = Int64(segments.dropFirst().first ?? "") ?? 0
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
                self.respond(context: context, status: 200, headers: [], body: Array("done".utf8))
            }
        case "drip":
            let count = Int(query["bytes"] ?? "") ?? Int(Self.segment(1, of: segments)) ?? 10
            let interval = Int64(query["interval_ms"] ?? "") ?? Int64(Self.segment(2, of: segments)) ?? 100
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(count)")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            drip(context: context, remaining: count, interval: interval)
        case "big":
            bigRemaining = Int(query["bytes"] ?? "") ?? Int(Self.segment(1, of: segments)) ?? (1 << 20)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(bigRemaining)")
            headers.add(name: "Content-Type", value: "application/octet-stream")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            isStreaming = true
            pump(context: context)
        case "redirect":
            let location = Int(Self.segment(1, of: segments)).map { "http://localhost:\($0)/echo" } ?? "/echo"
            respond(context: context, status: 302, headers: [("Location", location)], body: Array("moved".utf8))
        case "rpc":
            rpc(context: context, body: body)
        default:
            respond(context: context, status: 404, headers: [], body: Array("no such route".utf8))
        }
    }

    private func rpc(context: ChannelHandlerContext, body: [UInt8]) {
        guard let request = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let method = request["method"] as? String
        else {
            respond(context: context, status: 400, headers: [], body: Array("bad request".utf8))
            return
        }
        let id = request["id"] ?? NSNull()
        func error(_ code: Int, _ message: String) -> [String: Any] {
            ["jsonrpc": "2.0", "error": ["code": code, "message": message], "id": id]
        }
        let reply: Any
        switch method {
        case "ok": reply = ["jsonrpc": "2.0", "result": ["echo": request["params"] ?? NSNull()], "id": id]
        case "not_found": reply = error(-32601, "Method not found")
        case "bad_params": reply = error(-32602, "Invalid params")
        case "internal": reply = error(-32603, "Internal error")
        case "wrong_id": reply = ["jsonrpc": "2.0", "result": 1, "id": ((id as? Int) ?? 0) + 1]
        case "no_version": reply = ["result": 1, "id": id]
        case "not_json":
            respond(context: context, status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>oops</html>".utf8))
            return
        default: reply = error(-32601, "Method not found")
        }
        let json = (try? JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])) ?? Data()
        respond(context: context, status: 200, headers: [("Content-Type", "application/json")], body: Array(json))
    }

    // MARK: Writing

    private func respond(context: ChannelHandlerContext, status: Int, headers: [(String, String)], body: [UInt8]) {
        var fields = HTTPHeaders()
        for (name, value) in headers { fields.add(name: name, value: value) }
        fields.add(name: "Content-Length", value: "\(body.count)")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func drip(context: ChannelHandlerContext, remaining: Int, interval: Int64) {
        guard context.channel.isActive else { return }
        guard remaining > 0 else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(interval)) {
            guard context.channel.isActive else { return }
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "x")))), promise: nil)
            self.drip(context: context, remaining: remaining - 1, interval: interval)
        }
    }

    /// Writes chunks of the big body while the channel accepts them; resumed on writability changes.
    /// Writes and flushes can change writability re-entrantly, hence the `isPumping` guard.
    private func pump(context: ChannelHandlerContext) {
        guard isStreaming, !isPumping else { return }
        isPumping = true
        defer { isPumping = false }
        let chunkSize = 64 * 1024
        // A flush may make the channel writable again while re-entrant calls are ignored: loop until it is not.
        repeat {
            while bigRemaining > 0, context.channel.isWritable, context.channel.isActive {
                let size = min(chunkSize, bigRemaining)
                var buffer = context.channel.allocator.buffer(capacity: size)
                buffer.writeRepeatingByte(UInt8(ascii: "a"), count: size)
                bigRemaining -= size
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            if bigRemaining == 0 {
                isStreaming = false
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
            }
            context.flush()
        } while bigRemaining > 0 && context.channel.isWritable && context.channel.isActive
    }

    /// The path segment at `index`, or "" when the path is shorter.
    private static func segment(_ index: Int, of segments: [String]) -> String {
        index < segments.count ? segments[index] : ""
    }

    private static func split(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
                query[key] = value
            }
        }
        return (String(parts[0]), query)
    }
}
