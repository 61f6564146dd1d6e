import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// `asynctask example-target`: the example `OrderClient` service (`POST /rpc/{method}`), for `make run`, demos
/// and the cluster tests.
///
/// It answers 200 `{"ok":true}`, fails a configurable fraction with 503, and can record every call (attempt id,
/// attempt number, method, idempotency key, the status it answers with, the fault if one was in force, and with
/// `--record-arguments` the arguments) as JSON lines. Arguments may steer a single call, for tests: `"_status": 503`, `"_retry_after": "2"`,
/// `"_delay_ms": 200`. With `--control`, `POST /_control` switches bursts of 503s or hanging calls on and off
/// (see `ExampleTargetFault`). With `--batch` it serves batched requests instead (see `ExampleBatchReply`).
struct ExampleTargetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-target",
        abstract: "Run the example OrderClient target service (POST /rpc/{method}).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).") var port = 8081
    @Option(name: .customLong("fail-rate"), help: "Fraction of calls answered 503 (0…1).") var failRate = 0.0
    @Option(name: .customLong("delay-ms"), help: "Milliseconds to wait before answering each call.") var delayMilliseconds = 0
    @Option(name: .customLong("delay-jitter-ms"), help: "Up to this many milliseconds more, at random, before answering each call.")
    var delayJitterMilliseconds = 0
    @Option(help: "Append one JSON line per call to this file.") var record: String?
    @Flag(
        name: .customLong("record-ends"),
        help: "Also append a line when each call is answered (attempt_id, attempt_number, ended_at), to check overlaps.")
    var recordEnds = false
    @Flag(name: .customLong("record-arguments"), help: "Also record each call's arguments (its JSON body) as args.")
    var recordArguments = false
    @Option(
        name: .customLong("webhook-record"),
        help: "Also receive webhooks on POST /webhook, appending one JSON line (headers and body) per delivery to this file.")
    var webhookRecord: String?
    @Flag(help: "Accept POST /_control to switch on bursts of 503s or hanging calls, e.g. {\"fault\":\"hang\",\"seconds\":5,\"hang_ms\":4000}.")
    var control = false
    @Flag(
        help:
            "Serve batched requests: {\"attempts\":[…]} on POST /rpc/{method} and JSON-RPC 2.0 batch arrays on POST /rpc (README \"Batched delivery\")."
    )
    var batch = false

    func validate() throws {
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard delayJitterMilliseconds >= 0 else { throw ValidationError("--delay-jitter-ms must be 0 or more") }
        guard delayMilliseconds >= 0 else { throw ValidationError("--delay-ms must not be negative") }
    }

    func run() async throws {
        let recorder = try record.map(CallRecorder.init(path:))
        let webhookRecorder = try webhookRecord.map(CallRecorder.init(path:))
        let stats = TargetStats()
        let failRate = self.failRate
        let jitter = self.delayJitterMilliseconds
        let recordEnds = self.recordEnds
        let recordArguments = self.recordArguments
        let delay = self.delayMilliseconds
        let faults = ExampleTargetFaultSwitch()
        let router = Router()
        if control {
            router.post("_control") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 64 << 10)
                do {
                    faults.set(try ExampleTargetFault.parse(Data(body.readableBytesView)))
                    return Response(
                        status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
                } catch let error as ExampleTargetFault.BadControl {
                    let json = try JSONSerialization.data(withJSONObject: ["error": error.description])
                    return Response(
                        status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
                }
            }
        }
        router.get("healthz") { _, _ in "ok" }
        router.get("stats") { _, _ -> Response in
            let json = try JSONSerialization.data(withJSONObject: stats.snapshot, options: [.sortedKeys])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.post("webhook") { request, _ -> Response in
            guard let webhookRecorder else { return Response(status: .notFound) }
            let body = try await request.body.collect(upTo: 16 << 20)
            webhookRecorder.append([
                "signature": request.headers[HTTPField.Name("AsyncTask-Signature")!] ?? "",
                "event_id": request.headers[HTTPField.Name("AsyncTask-Event-Id")!] ?? "",
                "event": request.headers[HTTPField.Name("AsyncTask-Event")!] ?? "",
                "body": String(decoding: body.readableBytesView, as: UTF8.self),
                "at": Date().timeIntervalSince1970,
            ])
            return Response(status: .noContent)
        }
        if batch {
            let answer: @Sendable (Request, ExampleBatchReply.Kind, String) async throws -> Response = { request, kind, method in
                let body = try await request.body.collect(upTo: 64 << 20)
                let fault = faults.current()
                let reply = ExampleBatchReply(
                    body: Data(body.readableBytesView), kind: kind, method: method, failRate: failRate, delay: delay, fault: fault != nil,
                    recording: recorder != nil)
                stats.begin(reply.count)
                defer { stats.end(reply.count) }
                for line in reply.records { recorder?.append(line) }
                if let fault, fault.kind == .hang { try await Task.sleep(for: fault.hang) }
                if reply.delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(reply.delayMilliseconds)) }
                return Response(
                    status: .init(code: reply.status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
            }
            router.post("rpc") { request, _ in try await answer(request, .jsonrpc, "") }
            router.post("rpc/:method") { request, context in try await answer(request, .http, context.parameters.get("method") ?? "") }
        } else {
            router.post("rpc/:method") { request, context -> Response in
                // The call's time is its arrival, before its body is read and parsed.
                let arrived = Date().timeIntervalSince1970
                let method = context.parameters.get("method") ?? ""
                let body = try await request.body.collect(upTo: 16 << 20)
                let args = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
                let attemptID = request.headers[HTTPField.Name("AsyncTask-Attempt-Id")!].flatMap { Int64($0) } ?? -1
                let attemptNumber = request.headers[HTTPField.Name("AsyncTask-Attempt-Number")!].flatMap { Int($0) } ?? -1
                let key = request.headers[HTTPField.Name("Idempotency-Key")!] ?? ""
                stats.begin()
                defer { stats.end() }
                // The answer is decided when the call arrives, and recorded with it.
                let fault = faults.current()
                let status: Int
                if fault != nil {
                    status = 503
                } else if let scripted = args["_status"] as? Int {
                    status = scripted
                } else if failRate > 0, Double.random(in: 0..<1) < failRate {
                    status = 503
                } else {
                    status = 200
                }
                var line: [String: Any] = [
                    "attempt_id": attemptID, "attempt_number": attemptNumber, "method": method, "idempotency_key": key,
                    "at": arrived, "status": status,
                ]
                if let order = args["order_number"] { line["order_number"] = order }
                if recordArguments { line["args"] = args }
                if let fault { line["fault"] = fault.kind.rawValue }
                recorder?.append(line)
                if let fault {
                    if fault.kind == .hang { try await Task.sleep(for: fault.hang) }
                    return Response(
                        status: .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: #"{"error":"fault: \#(fault.kind.rawValue)"}"#)))
                }
                let wait = ((args["_delay_ms"] as? Int) ?? delay) + (jitter > 0 ? Int.random(in: 0...jitter) : 0)
                if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
                if recordEnds {
                    recorder?.append(["attempt_id": attemptID, "attempt_number": attemptNumber, "ended_at": Date().timeIntervalSince1970])
                }
                if args["_status"] is Int {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let retryAfter = args["_retry_after"] as? String { headers[.retryAfter] = retryAfter }
                    return Response(
                        status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"error":"scripted"}"#)))
                }
                if status == 503 {
                    return Response(
                        status: .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: #"{"error":"orders service busy"}"#)))
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
            }
        }
        var logger = Logger(label: "asynctask.example-target")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "asynctask-example-target"),
            onServerRunning: { channel in
                let line = "example-target listening on http://\(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            },
            logger: logger)
        try await app.runService()
    }
}

/// Appends JSON lines to a file from many tasks at once.
final class CallRecorder: Sendable {
    private let handle: Mutex<FileHandle>

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CLIFailure.badInput("cannot open --record file \(path)")
        }
        handle.seekToEndOfFile()
        self.handle = Mutex(handle)
    }

    func append(_ object: [String: Any]) {
        guard let line = JSONTextWriter.line(object) else { return }
        handle.withLock { $0.write(line) }
    }
}

/// Calls received and concurrency, for `GET /stats`.
final class TargetStats: Sendable {
    private let state = Mutex((calls: 0, inFlight: 0, peak: 0))

    func begin(_ count: Int = 1) {
        state.withLock { state in
            state.calls += count
            state.inFlight += count
            state.peak = max(state.peak, state.inFlight)
        }
    }

    func end(_ count: Int = 1) { state.withLock { $0.inFlight -= count } }

    var snapshot: [String: Int] {
        state.withLock { ["calls": $0.calls, "in_flight": $0.inFlight, "peak_in_flight": $0.peak] }
    }
}
