import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import Testing

struct OutcomeClassifierTests {
    let classifier = OutcomeClassifier()
    let now = Date(timeIntervalSince1970: 1_445_412_400)

    func classify(_ status: Int, _ body: String = "", headers: HTTPHeaders = [:], _ proto: TargetProtocol = .http) -> CallOutcome {
        classifier.classify(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)), protocol: proto, attemptID: 42, now: now)
    }

    @Test func twoHundredsSucceed() {
        #expect(classify(200, "ok") == .succeeded(status: 200, excerpt: "ok"))
        #expect(classify(204) == .succeeded(status: 204, excerpt: ""))
    }

    @Test(arguments: [408, 425, 429, 500, 502, 503, 504, 599])
    func retryableStatuses(_ status: Int) {
        let outcome = classify(status, "busy", headers: ["Retry-After": "30"])
        #expect(
            outcome == .retryable(kind: .httpStatus, message: "HTTP status \(status)", httpStatus: status, retryAfter: .seconds(30), excerpt: "busy"))
    }

    @Test func retryAfterAsHTTPDate() {
        let outcome = classify(429, headers: ["Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"])
        guard case .retryable(_, _, _, let retryAfter, _) = outcome else {
            Issue.record("not retryable: \(outcome)")
            return
        }
        #expect(retryAfter == .seconds(80))
        guard case .retryable(_, _, _, let none, _) = classify(503) else {
            Issue.record("not retryable")
            return
        }
        #expect(none == nil)
    }

    @Test(arguments: [301, 302, 400, 401, 403, 404, 409, 410, 422])
    func permanentStatuses(_ status: Int) {
        let outcome = classify(status, "no")
        guard case .permanent(.httpStatus, _, status, "no") = outcome else {
            Issue.record("\(outcome)")
            return
        }
    }

    @Test func jsonrpcResultSucceedsAndErrorsAreSorted() {
        #expect(classify(200, #"{"jsonrpc":"2.0","result":{"ok":true},"id":42}"#, .jsonrpc).isSuccess)
        let notFound = classify(200, #"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":42}"#, .jsonrpc)
        #expect(
            notFound
                == .permanent(
                    kind: .jsonrpcError, message: "JSON-RPC error -32601: Method not found", httpStatus: 200,
                    excerpt: #"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":42}"#))
        let badParams = classify(200, #"{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"},"id":42}"#, .jsonrpc)
        #expect(badParams.kind == .jsonrpcError)
        guard case .permanent = badParams else {
            Issue.record("invalid params must be permanent")
            return
        }
        let internalError = classify(200, #"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}"#, .jsonrpc)
        guard case .retryable(.jsonrpcError, _, 200, nil, _) = internalError else {
            Issue.record("\(internalError)")
            return
        }
    }

    @Test(arguments: [
        "<html>oops</html>", "[]", #"{"result":1,"id":42}"#, #"{"jsonrpc":"2.0","result":1,"id":43}"#,
        #"{"jsonrpc":"2.0","result":1,"error":{"code":1},"id":42}"#, #"{"jsonrpc":"2.0","id":42}"#,
        #"{"jsonrpc":"2.0","error":"bad","id":42}"#,
    ])
    func invalidJSONRPCResponsesArePermanent(_ body: String) {
        let outcome = classify(200, body, .jsonrpc)
        guard case .permanent(.invalidResponse, _, 200, _) = outcome else {
            Issue.record("\(outcome)")
            return
        }
    }

    @Test func truncatedJSONRPCIsInvalidButTruncatedHTTPSucceeds() {
        let response = HTTPResponse(status: 200, body: Array(#"{"jsonrpc":"2.0","result":"#.utf8), bodyTruncated: true)
        #expect(classifier.classify(response, protocol: .jsonrpc, attemptID: 42, now: now).kind == .invalidResponse)
        #expect(classifier.classify(response, protocol: .http, attemptID: 42, now: now).isSuccess)
    }

    @Test func transportErrorsAreClassified() {
        let cases: [(HTTPClientError.Code, AttemptErrorKind, Bool)] = [
            (.connectFailed, .connect, true), (.dnsFailed, .dns, true), (.tlsFailed, .tls, true), (.timeout, .timeout, true),
            (.connectionLost, .connection, true), (.protocolError, .protocol, true), (.cancelled, .cancelled, true),
            (.shutdown, .shutdown, true), (.invalidURL, .invalidRequest, false), (.other, .internal, true),
        ]
        for (code, kind, retryable) in cases {
            let outcome = classifier.classify(HTTPClientError(code: code, detail: "detail text"))
            #expect(outcome.kind == kind)
            #expect(outcome.message?.contains("detail text") == true)
            if case .retryable = outcome { #expect(retryable, "\(code)") } else { #expect(!retryable, "\(code)") }
        }
    }

    @Test func excerptIsBounded() {
        let outcome = classify(500, String(repeating: "x", count: 100_000))
        #expect(outcome.excerpt.utf8.count == 512)
    }
}
