import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import Testing

struct TargetRequestBuilderTests {
    func target(_ proto: TargetProtocol, url: String = "http://orders.internal:8080/rpc") throws -> TargetConfiguration {
        try TargetConfiguration(
            name: "OrderClient", url: url, protocol: proto, timeout: .seconds(3), headers: ["Authorization": "Bearer t"]
        )
    }

    let call = TargetCall(attemptID: 42, attemptNumber: 3, methodName: "fulfill", arguments: Array(#"{"order":7}"#.utf8))

    @Test func httpPostsToURLSlashMethodWithTheContractHeaders() throws {
        let request = try TargetRequestBuilder.makeRequest(for: call, to: try target(.http))
        #expect(request.method == .post)
        #expect(request.url == "http://orders.internal:8080/rpc/fulfill")
        #expect(request.body == Array(#"{"order":7}"#.utf8))
        #expect(request.headers["Content-Type"] == "application/json")
        #expect(request.headers["Idempotency-Key"] == "attempt-42")
        #expect(request.headers["AsyncTask-Attempt-Id"] == "42")
        #expect(request.headers["AsyncTask-Attempt-Number"] == "3")
        #expect(request.headers["Authorization"] == "Bearer t")
        #expect(request.timeout == .seconds(3))

        let slash = try TargetRequestBuilder.makeRequest(for: call, to: try target(.http, url: "http://o/rpc/"))
        #expect(slash.url == "http://o/rpc/fulfill")

        var withToken = call
        withToken.idempotencyKey = "order-7355608"
        #expect(try TargetRequestBuilder.makeRequest(for: withToken, to: try target(.http)).headers["Idempotency-Key"] == "order-7355608")
    }

    @Test func jsonrpcPostsAnEnvelopeWithTheAttemptIDToTheURL() throws {
        let request = try TargetRequestBuilder.makeRequest(for: call, to: try target(.jsonrpc))
        #expect(request.url == "http://orders.internal:8080/rpc")
        let envelope = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(envelope["jsonrpc"] as? String == "2.0")
        #expect(envelope["method"] as? String == "fulfill")
        #expect((envelope["params"] as? [String: Any])?["order"] as? Int == 7)
        #expect(envelope["id"] as? Int == 42)
        #expect(request.headers["Idempotency-Key"] == "attempt-42")
    }

    @Test(arguments: ["../admin", "a/b", "x?y", "a#b", "%2e%2e", "a b", "a\r\nX: 1", ""])
    func refusesMethodNamesThatCouldSteerTheCall(_ name: String) throws {
        var bad = call
        bad.methodName = name
        let target = try target(.http)
        #expect(throws: TargetRequestBuilder.Error.self) { try TargetRequestBuilder.makeRequest(for: bad, to: target) }
        do {
            _ = try TargetRequestBuilder.makeRequest(for: bad, to: target)
        } catch {
            #expect(error.kind == .invalidMethodName)
        }
    }

    @Test func refusesArgumentsThatAreNotJSONAndBadKeys() throws {
        var bad = call
        bad.arguments = Array("{not json".utf8)
        #expect(throws: TargetRequestBuilder.Error(kind: .invalidArguments, message: "the arguments are not valid JSON")) {
            try TargetRequestBuilder.makeRequest(for: bad, to: try target(.http))
        }
        bad.arguments = Array("42".utf8)
        let jsonrpc = try target(.jsonrpc)
        let http = try target(.http)
        do {
            _ = try TargetRequestBuilder.makeRequest(for: bad, to: jsonrpc)
            Issue.record("a scalar was accepted as JSON-RPC params")
        } catch {
            #expect(error.kind == .invalidArguments)
        }
        var badKey = call
        badKey.idempotencyKey = "k\r\nX-Injected: 1"
        do {
            _ = try TargetRequestBuilder.makeRequest(for: badKey, to: http)
            Issue.record("an idempotency key with CRLF was accepted")
        } catch {
            #expect(error.kind == .invalidRequest)
        }
        var empty = call
        empty.arguments = []
        #expect(try TargetRequestBuilder.makeRequest(for: empty, to: try target(.http)).body == Array("{}".utf8))
    }
}
