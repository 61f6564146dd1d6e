import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import FuzzSupport

/// What every input is checked against (static, so nonisolated code may read it).
enum Fixture {
    /// The attempt id the responses are checked against.
    static let attemptID: Int64 = 42
    static let classifier = OutcomeClassifier()
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
}

/// A 200 response body → an outcome. It succeeds only when the body is a JSON object holding `"jsonrpc": "2.0"`, a
/// `result` and this attempt's id; an error or a bad body is never a success; the excerpt stays within its bound;
/// a truncated body is always an invalid response; and the plain-HTTP protocol takes any 2xx body as success.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRPC(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let body = FuzzCheck.bytes(data, size)
    let shown = String(decoding: body, as: UTF8.self)
    let outcome = Fixture.classifier.classify(HTTPResponse(status: 200, body: body), protocol: .jsonrpc, attemptID: Fixture.attemptID, now: Fixture.now)
    FuzzCheck.require(outcome.excerpt.utf8.count <= Fixture.classifier.excerptBytes, "the excerpt is at most \(Fixture.classifier.excerptBytes) bytes", input: shown)
    FuzzCheck.require((outcome.message?.utf8.count ?? 0) <= 1_024, "the message is bounded (got \(outcome.message?.utf8.count ?? 0) bytes)", input: shown)
    let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    switch outcome {
    case .succeeded:
        FuzzCheck.require(object?["jsonrpc"] as? String == "2.0", "a success says jsonrpc 2.0", input: shown)
        FuzzCheck.require(object?.keys.contains("result") == true, "a success has a result", input: shown)
        FuzzCheck.require(object?["error"] == nil, "a success has no error member", input: shown)
        let id = object?["id"]
        FuzzCheck.require(
            (id as? NSNumber)?.int64Value == Fixture.attemptID || id as? String == String(Fixture.attemptID),
            "a success carries the attempt's id", input: shown)
    case .retryable(let kind, _, _, let retryAfter, _):
        FuzzCheck.require(kind == .jsonrpcError, "a 200 is retried only for a JSON-RPC error (got \(kind))", input: shown)
        FuzzCheck.require(retryAfter == nil, "a JSON-RPC error has no Retry-After", input: shown)
        FuzzCheck.require(object?["error"] != nil, "a retryable JSON-RPC outcome has an error member", input: shown)
    case .permanent(let kind, _, _, _):
        FuzzCheck.require(kind == .invalidResponse || kind == .jsonrpcError, "a 200 fails only as invalid or a JSON-RPC error (got \(kind))", input: shown)
    }
    let truncated = Fixture.classifier.classify(HTTPResponse(status: 200, body: body, bodyTruncated: true), protocol: .jsonrpc, attemptID: Fixture.attemptID, now: Fixture.now)
    FuzzCheck.require(truncated.kind == .invalidResponse, "a truncated JSON-RPC body is an invalid response", input: shown)
    FuzzCheck.require(Fixture.classifier.classify(HTTPResponse(status: 200, body: body), protocol: .http, attemptID: Fixture.attemptID, now: Fixture.now).isSuccess,
                      "plain HTTP takes any 2xx body as success", input: shown)
    return 0
}

FuzzDriver.run(fuzzJSONRPC)
