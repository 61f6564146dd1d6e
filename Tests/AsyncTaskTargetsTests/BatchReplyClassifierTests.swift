import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import Testing

@Suite("Batch reply classifier")
struct BatchReplyClassifierTests {
    let classifier = BatchReplyClassifier()
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func classify(_ body: String, _ proto: TargetProtocol, ids: [Int64], status: Int = 200, headers: HTTPHeaders = [:]) -> BatchReplyClassifier.Reply
    {
        classifier.classify(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)), protocol: proto, attemptIDs: ids, now: now)
    }

    @Test("http: ok, retry (own retry_after, else the reply's Retry-After), fail; a missing element is retryable")
    func httpMixed() throws {
        let reply = classify(
            #"""
            {"results":[{"id":1,"status":"ok"},{"id":2,"status":"retry","retry_after":30,"error":"busy"},
             {"id":3,"status":"fail","error":"no such order"},{"id":"5","status":"retry"},{"id":6,"status":"maybe"}]}
            """#, .http, ids: [1, 2, 3, 4, 5, 6], headers: ["Retry-After": "7"])
        #expect(reply.outcomes[1] == .succeeded(status: 200, excerpt: ""))
        guard case .retryable(.batchResult, let message, 200, .seconds(30), let excerpt) = reply.outcomes[2] else {
            Issue.record("\(String(describing: reply.outcomes[2]))")
            return
        }
        #expect(message == "the target answered retry: busy" && excerpt.contains(#""retry_after":30"#))
        guard case .permanent(.batchResult, let failed, 200, _) = reply.outcomes[3] else {
            Issue.record("\(String(describing: reply.outcomes[3]))")
            return
        }
        #expect(failed == "the target answered fail: no such order")
        guard case .retryable(.invalidResponse, let missing, 200, nil, _) = reply.outcomes[4] else {
            Issue.record("\(String(describing: reply.outcomes[4]))")
            return
        }
        #expect(missing.contains("no element"))
        guard case .retryable(.batchResult, _, _, .seconds(7), _) = reply.outcomes[5] else {
            Issue.record("\(String(describing: reply.outcomes[5]))")
            return
        }
        guard case .permanent(.invalidResponse, _, _, _) = reply.outcomes[6] else {
            Issue.record("\(String(describing: reply.outcomes[6]))")
            return
        }
        #expect(reply.unknownIDs.isEmpty && reply.duplicateIDs.isEmpty)
    }

    @Test("jsonrpc: each element by the unbatched JSON-RPC rule; error.data.retry_after gives its delay")
    func jsonrpcMixed() {
        let reply = classify(
            #"""
            [{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"busy","data":{"retry_after":"12"}}},
             {"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad params"}},{"jsonrpc":"1.0","id":4,"result":1}]
            """#, .jsonrpc, ids: [1, 2, 3, 4, 5])
        #expect(reply.outcomes[1]?.isSuccess == true)
        guard case .retryable(.jsonrpcError, "JSON-RPC error -32000: busy", 200, .seconds(12), _) = reply.outcomes[2] else {
            Issue.record("\(String(describing: reply.outcomes[2]))")
            return
        }
        guard case .permanent(.jsonrpcError, _, _, _) = reply.outcomes[3] else {
            Issue.record("\(String(describing: reply.outcomes[3]))")
            return
        }
        guard case .permanent(.invalidResponse, _, _, _) = reply.outcomes[4] else {
            Issue.record("\(String(describing: reply.outcomes[4]))")
            return
        }
        guard case .retryable(.invalidResponse, _, _, _, _) = reply.outcomes[5] else {
            Issue.record("\(String(describing: reply.outcomes[5]))")
            return
        }
    }

    @Test(
        "a reply that is not the documented shape, or an HTTP error, applies to every attempt",
        arguments: [
            (#"{"ok":true}"#, TargetProtocol.jsonrpc, 200), (#"{"ok":true}"#, .http, 200), ("[]", .http, 200), ("<html>", .jsonrpc, 200),
            ("busy", .jsonrpc, 503), ("busy", .http, 503), ("nope", .http, 404),
        ])
    func wholeReply(body: String, proto: TargetProtocol, status: Int) {
        let reply = classify(body, proto, ids: [1, 2, 3], status: status, headers: ["Retry-After": "9"])
        #expect(Set(reply.outcomes.keys) == [1, 2, 3])
        #expect(Set(reply.outcomes.values).count == 1, "every attempt gets the same outcome")
        switch (status, reply.outcomes[1]) {
        case (200, .permanent(.invalidResponse, _, 200, _)?): break
        case (503, .retryable(.httpStatus, "HTTP status 503", 503, .seconds(9), "busy")?): break
        case (404, .permanent(.httpStatus, _, 404, _)?): break
        default: Issue.record("\(status): \(String(describing: reply.outcomes[1]))")
        }
        // The same rule as an unbatched call for a status that is not 2xx.
        if status != 200 {
            let single = OutcomeClassifier().classify(
                HTTPResponse(status: status, headers: ["Retry-After": "9"], body: Array(body.utf8)), protocol: proto, attemptID: 1, now: now)
            #expect(reply.outcomes[1] == single)
        }
    }

    @Test("a JSON-RPC error with a null id instead of an array refuses the batch whole, by its code")
    func jsonrpcRefusedWhole() {
        let reply = classify(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#, .jsonrpc, ids: [1, 2])
        for id: Int64 in [1, 2] {
            guard case .permanent(.jsonrpcError, "JSON-RPC error -32600: batch too large", _, _) = reply.outcomes[id] else {
                Issue.record("\(String(describing: reply.outcomes[id]))")
                return
            }
        }
    }

    @Test("an element for an id not asked is ignored and reported; two elements for one id make it retryable")
    func unknownAndDuplicate() {
        let reply = classify(
            #"""
            {"results":[{"id":1,"status":"ok"},{"id":99,"status":"ok"},{"status":"ok"},{"id":2,"status":"ok"},{"id":2,"status":"fail"}]}
            """#, .http, ids: [1, 2])
        #expect(reply.outcomes[1]?.isSuccess == true)
        guard case .retryable(.invalidResponse, let message, _, _, _) = reply.outcomes[2] else {
            Issue.record("\(String(describing: reply.outcomes[2]))")
            return
        }
        #expect(message.contains("more than one element"))
        #expect(reply.unknownIDs == ["99", "?"])
        #expect(reply.duplicateIDs == [2])
    }

    @Test("a transport failure applies to every attempt, as unbatched")
    func transport() {
        let error = HTTPClientError(code: .connectFailed, detail: "refused")
        let reply = classifier.classify(error, attemptIDs: [4, 5])
        #expect(reply.outcomes[4] == OutcomeClassifier().classify(error) && reply.outcomes[5] == reply.outcomes[4])
    }
}
