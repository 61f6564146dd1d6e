import AsyncTaskCore
import AsyncTaskTargets
import CurlHTTP
import Foundation
import Logging
import LoopbackHTTPServer
import Testing

/// The whole path, request building to classification, against a real loopback server.
@Suite(.serialized)
struct TargetCallerTests {
    func withCaller(_ body: (TargetCaller, LoopbackHTTPServer) async throws -> Void) async throws {
        let server = try await LoopbackHTTPServer.start()
        let engine = HTTPEngine(logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.run() }
            let now = Date(timeIntervalSince1970: 1_445_412_400)
            do {
                try await body(TargetCaller(engine: engine, now: { now }), server)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
        try await server.stop()
    }

    @Test func httpCallSendsTheContractAndSucceeds() async throws {
        try await withCaller { caller, server in
            let target = try TargetConfiguration(name: "Echo", url: server.baseURL, headers: ["Authorization": "Bearer t"])
            let call = TargetCall(attemptID: 7, attemptNumber: 2, methodName: "echo", arguments: Array(#"{"a":1}"#.utf8), idempotencyKey: "tok-1")
            let outcome = await caller.call(call, to: target)
            guard case .succeeded(200, let excerpt) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            let echo = try #require(try JSONSerialization.jsonObject(with: Data(excerpt.utf8)) as? [String: Any])
            #expect(echo["uri"] as? String == "/echo")
            #expect(echo["body"] as? String == #"{"a":1}"#)
            let headers = Dictionary(((echo["headers"] as? [[String]]) ?? []).map { ($0[0].lowercased(), $0[1]) }, uniquingKeysWith: { a, _ in a })
            #expect(headers["idempotency-key"] == "tok-1")
            #expect(headers["asynctask-attempt-id"] == "7")
            #expect(headers["asynctask-attempt-number"] == "2")
            #expect(headers["content-type"] == "application/json")
            #expect(headers["authorization"] == "Bearer t")
        }
    }

    @Test func statusesBecomeRetryableOrPermanent() async throws {
        try await withCaller { caller, server in
            let target = try TargetConfiguration(name: "S", url: server.baseURL + "/status")
            let call = TargetCall(attemptID: 1, attemptNumber: 1, methodName: "s429", arguments: [])
            // /status/429 has no Retry-After here; the query form is covered by the classifier tests.
            let tooMany = await caller.call(call, to: target)
            guard case .retryable(.httpStatus, _, 429, nil, _) = tooMany else {
                Issue.record("\(tooMany)")
                return
            }
            var notFound = call
            notFound.methodName = "s404"
            guard case .permanent(.httpStatus, _, 404, _) = await caller.call(notFound, to: target) else {
                Issue.record("404 not permanent")
                return
            }
            var redirect = call
            redirect.methodName = "s302"
            guard case .permanent(.httpStatus, _, 302, _) = await caller.call(redirect, to: target) else {
                Issue.record("302 not permanent")
                return
            }
            #expect(await caller.call(TargetCall(attemptID: 1, attemptNumber: 1, methodName: "s200", arguments: []), to: target).isSuccess)
        }
    }

    @Test func jsonrpcOutcomesFromARealServer() async throws {
        try await withCaller { caller, server in
            let target = try TargetConfiguration(name: "RPC", url: server.baseURL + "/rpc", protocol: .jsonrpc)
            func call(_ method: String) async -> CallOutcome {
                await caller.call(TargetCall(attemptID: 99, attemptNumber: 1, methodName: method, arguments: Array(#"{"x":[1,2]}"#.utf8)), to: target)
            }
            let ok = await call("ok")
            #expect(ok.isSuccess)
            #expect(ok.excerpt.contains(#""echo":{"x":[1,2]}"#))
            guard case .permanent(.jsonrpcError, _, _, _) = await call("not_found") else {
                Issue.record("method not found")
                return
            }
            guard case .permanent(.jsonrpcError, _, _, _) = await call("bad_params") else {
                Issue.record("invalid params")
                return
            }
            guard case .retryable(.jsonrpcError, _, _, _, _) = await call("internal") else {
                Issue.record("internal error")
                return
            }
            guard case .permanent(.invalidResponse, _, _, _) = await call("not_json") else {
                Issue.record("not json")
                return
            }
            guard case .permanent(.invalidResponse, _, _, _) = await call("wrong_id") else {
                Issue.record("wrong id")
                return
            }
            guard case .permanent(.invalidResponse, _, _, _) = await call("no_version") else {
                Issue.record("no version")
                return
            }
        }
    }

    @Test func invalidMethodNameNeverReachesTheServer() async throws {
        try await withCaller { caller, server in
            let target = try TargetConfiguration(name: "T", url: server.baseURL)
            let outcome = await caller.call(TargetCall(attemptID: 1, attemptNumber: 1, methodName: "../status/200", arguments: []), to: target)
            guard case .permanent(.invalidMethodName, _, nil, _) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(server.requestsReceived == 0)
        }
    }

    @Test func transportFailuresAreRetryable() async throws {
        try await withCaller { caller, server in
            let hanging = try TargetConfiguration(name: "Slow", url: server.baseURL, timeout: .milliseconds(300))
            let timeout = await caller.call(TargetCall(attemptID: 1, attemptNumber: 1, methodName: "hang", arguments: []), to: hanging)
            guard case .retryable(.timeout, _, nil, nil, _) = timeout else {
                Issue.record("\(timeout)")
                return
            }

            let closed = try await LoopbackHTTPServer.start()
            let url = closed.baseURL
            try await closed.stop()
            let refused = await caller.call(
                TargetCall(attemptID: 1, attemptNumber: 1, methodName: "x", arguments: []), to: try TargetConfiguration(name: "Down", url: url))
            guard case .retryable(.connect, _, nil, nil, _) = refused else {
                Issue.record("\(refused)")
                return
            }
        }
    }
}
