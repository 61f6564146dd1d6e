import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import Testing

@Suite("Batch request builder")
struct BatchRequestBuilderTests {
    func target(_ proto: TargetProtocol) throws -> TargetConfiguration {
        try TargetConfiguration(
            name: "Orders", url: "http://orders.internal/rpc", protocol: proto, headers: ["Authorization": "Bearer t"],
            batch: try BatchSettings(target: "Orders"))
    }

    func json(_ request: HTTPRequest?) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try #require(request).body))
    }

    @Test("http: POST {url}/{method} with {attempts:[{id, attempt_number, idempotency_key, args}]}, each its own key")
    func http() throws {
        let calls = [
            TargetCall(attemptID: 7, attemptNumber: 1, methodName: "fulfill", arguments: Array(#"{"order":1}"#.utf8), idempotencyKey: #"order-"1"\"#),
            TargetCall(attemptID: 8, attemptNumber: 3, methodName: "fulfill", arguments: []),
        ]
        let batch = BatchRequestBuilder.makeRequest(for: calls, to: try target(.http))
        #expect(batch.request?.url == "http://orders.internal/rpc/fulfill")
        #expect(batch.request?.headers["AsyncTask-Batch-Size"] == "2")
        #expect(batch.request?.headers["Authorization"] == "Bearer t")
        #expect(batch.request?.headers["Idempotency-Key"] == nil)
        let attempts = try #require((try json(batch.request) as? [String: Any])?["attempts"] as? [[String: Any]])
        #expect(attempts.count == 2)
        #expect(attempts[0]["id"] as? Int == 7 && attempts[0]["attempt_number"] as? Int == 1)
        #expect(attempts[0]["idempotency_key"] as? String == #"order-"1"\"#)
        #expect((attempts[0]["args"] as? [String: Any])?["order"] as? Int == 1)
        #expect(attempts[1]["idempotency_key"] as? String == "attempt-8" && attempts[1]["attempt_number"] as? Int == 3)
        #expect((attempts[1]["args"] as? [String: Any])?.isEmpty == true)
    }

    @Test("jsonrpc: a JSON-RPC 2.0 batch array, ids = attempt ids, key and try number in the asynctask member")
    func jsonrpc() throws {
        let calls = (1...3).map {
            TargetCall(attemptID: Int64($0), attemptNumber: $0, methodName: "fulfill", arguments: Array(#"{"n":\#($0)}"#.utf8))
        }
        let batch = BatchRequestBuilder.makeRequest(for: calls, to: try target(.jsonrpc))
        #expect(batch.request?.url == "http://orders.internal/rpc")
        let elements = try #require(try json(batch.request) as? [[String: Any]])
        #expect(elements.map { $0["id"] as? Int } == [1, 2, 3])
        #expect(elements.allSatisfy { $0["jsonrpc"] as? String == "2.0" && $0["method"] as? String == "fulfill" })
        #expect((elements[1]["params"] as? [String: Any])?["n"] as? Int == 2)
        let meta = try #require(elements[2]["asynctask"] as? [String: Any])
        #expect(meta["attempt_number"] as? Int == 3 && meta["idempotency_key"] as? String == "attempt-3")
    }

    @Test("a call with bad arguments is refused on its own; a bad method name refuses them all")
    func refusals() throws {
        let calls = [
            TargetCall(attemptID: 1, attemptNumber: 1, methodName: "fulfill", arguments: Array("{".utf8)),
            TargetCall(attemptID: 2, attemptNumber: 1, methodName: "fulfill", arguments: Array("[1]".utf8)),
            TargetCall(attemptID: 3, attemptNumber: 1, methodName: "fulfill", arguments: Array("7".utf8)),
        ]
        let rpc = BatchRequestBuilder.makeRequest(for: calls, to: try target(.jsonrpc))
        #expect(rpc.sent.map(\.attemptID) == [2])
        #expect(rpc.refused.map(\.call.attemptID) == [1, 3])
        #expect(rpc.refused.map(\.error.kind) == [.invalidArguments, .invalidArguments])
        #expect(try json(rpc.request) as? [Any] != nil)
        let bad = BatchRequestBuilder.makeRequest(
            for: [TargetCall(attemptID: 9, attemptNumber: 1, methodName: "../admin", arguments: [])], to: try target(.http))
        #expect(bad.request == nil && bad.refused.map(\.error.kind) == [.invalidMethodName])
    }
}
