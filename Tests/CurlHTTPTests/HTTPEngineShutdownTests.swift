import CurlHTTP
import Foundation
import Logging
import LoopbackHTTPServer
import ServiceLifecycle
import Testing

/// Stopping the engine with requests in flight.
@Suite(.serialized)
struct HTTPEngineShutdownTests {
    /// Runs `engine` in a service group; returns the group and the task running it.
    private func start(_ engine: HTTPEngine) -> (ServiceGroup, Task<Void, any Error>) {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [engine], gracefulShutdownSignals: [], cancellationSignals: [], logger: Logger(label: "test"))
        )
        return (group, Task { try await group.run() })
    }

    private func waitForRequests(_ count: Int, on server: LoopbackHTTPServer) async throws {
        for _ in 0..<500 where server.requestsReceived < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.requestsReceived >= count)
    }

    @Test func gracefulShutdownFailsInFlightRequestsWhenConfiguredTo() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let engine = HTTPEngine(configuration: HTTPEngine.Configuration(shutdownBehavior: .failInFlight))
        let (group, runner) = start(engine)
        let calls = (0..<10).map { _ in
            Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang", timeout: .seconds(30)), on: engine) }
        }
        try await waitForRequests(10, on: server)
        let (codes, elapsed) = try await measure {
            await group.triggerGracefulShutdown()
            var codes: [HTTPClientError.Code?] = []
            for call in calls { codes.append(await call.value?.code) }
            try await runner.value
            return codes
        }
        #expect(codes.allSatisfy { $0 == .shutdown })
        #expect(elapsed < 1)
        #expect(await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine)?.code == .shutdown)
    }

    @Test func gracefulShutdownLetsInFlightRequestsFinishWithinTheGrace() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let engine = HTTPEngine(configuration: HTTPEngine.Configuration(shutdownBehavior: .finishInFlight(grace: .seconds(1))))
        let (group, runner) = start(engine)
        let quick = (0..<5).map { _ in
            Task { try await engine.execute(HTTPRequest(url: server.baseURL + "/delay/300")).status }
        }
        let stuck = Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang", timeout: .seconds(30)), on: engine) }
        try await waitForRequests(6, on: server)
        let (_, elapsed) = try await measure {
            await group.triggerGracefulShutdown()
            // Refused from the start of the shutdown (which the group delivers asynchronously).
            try await Task.sleep(for: .milliseconds(100))
            #expect(await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine)?.code == .shutdown)
            for call in quick { #expect(try await call.value == 200) }
            #expect(await stuck.value?.code == .shutdown)
            try await runner.value
        }
        #expect(elapsed >= 0.9 && elapsed < 1.5, "stopped after \(elapsed) s")
    }

    @Test func cancellingRunFailsInFlightRequestsAtOnce() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let engine = HTTPEngine(configuration: HTTPEngine.Configuration(shutdownBehavior: .finishInFlight(grace: .seconds(30))))
        let runner = Task { try await engine.run() }
        let stuck = Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang", timeout: .seconds(30)), on: engine) }
        try await waitForRequests(1, on: server)
        let (code, elapsed) = try await measure {
            runner.cancel()
            try await runner.value
            return await stuck.value?.code
        }
        #expect(code == .shutdown)
        #expect(elapsed < 1)
        #expect(engine.statistics.inFlight == 0)
    }
}
