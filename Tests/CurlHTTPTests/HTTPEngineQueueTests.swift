import LoopbackHTTPServer
import Testing

@testable import CurlHTTP

/// The engine's bound on transfers inside libcurl (``HTTPEngine/Configuration/maxActiveTransfers``), against a
/// real HTTP server on loopback: requests past the bound wait in the engine's queue, lanes take turns, and a
/// request's timeout runs while it waits.
@Suite(.serialized)
struct HTTPEngineQueueTests {
    /// Waits until the engine reports `count` requests queued.
    private func waitForQueued(_ count: Int, on engine: HTTPEngine) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while engine.statistics.queued < count {
            try #require(ContinuousClock.now < deadline, "the engine never queued \(count) requests")
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Six 300 ms requests through two slots take three rounds; without a bound they run at once.
    @Test func holdsAtMostTheBoundInsideLibcurl() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let (bounded, boundedSeconds) = try await withRunningEngine(HTTPEngine.Configuration(maxActiveTransfers: 2)) { engine in
            try await measure {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<6 {
                        group.addTask { try await engine.execute(HTTPRequest(url: server.baseURL + "/delay/300")).status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
        }
        #expect(bounded == Array(repeating: 200, count: 6))
        #expect(boundedSeconds >= 0.85, "6 requests of 300 ms through 2 slots took \(boundedSeconds) s")
        let (_, freeSeconds) = try await withRunningEngine { engine in
            try await measure {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<6 {
                        group.addTask { try await engine.execute(HTTPRequest(url: server.baseURL + "/delay/300")).status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
        }
        #expect(freeSeconds < boundedSeconds, "unbounded \(freeSeconds) s, bounded \(boundedSeconds) s")
    }

    /// One slot, held by a slow lane with three more of its requests waiting: the other lane's request starts
    /// after at most one more of the slow lane's, not after all of them (the order in which they end).
    @Test func lanesTakeTurnsForTheSlots() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let ended = EndOrder()
        try await withRunningEngine(HTTPEngine.Configuration(maxActiveTransfers: 1)) { engine in
            let slow = HTTPRequest(url: server.baseURL + "/delay/200", lane: "slow")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...4 {
                    group.addTask {
                        let status = try await engine.execute(slow).status
                        #expect(status == 200)
                        await ended.append("slow\(index)")
                    }
                    if index > 1 { try await waitForQueued(index - 1, on: engine) } else { try await Task.sleep(for: .milliseconds(50)) }
                }
                group.addTask {
                    let status = try await engine.execute(HTTPRequest(url: server.baseURL + "/status/204", lane: "fast")).status
                    #expect(status == 204)
                    await ended.append("fast")
                }
                try await group.waitForAll()
            }
        }
        let order = await ended.names
        #expect(order == ["slow1", "slow2", "fast", "slow3", "slow4"], "\(order)")
    }

    /// A request that waits for a slot longer than its timeout fails with a timeout when the timeout passes,
    /// counted from its submission, and never reaches the server.
    @Test func theTimeoutRunsWhileARequestWaits() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine(HTTPEngine.Configuration(maxActiveTransfers: 1)) { engine in
            async let holder = engine.execute(HTTPRequest(url: server.baseURL + "/delay/1500", timeout: .seconds(10)))
            try await Task.sleep(for: .milliseconds(100))
            let (error, seconds) = await measure {
                await failure(of: HTTPRequest(url: server.baseURL + "/echo", timeout: .milliseconds(300)), on: engine)
            }
            #expect(error?.code == .timeout)
            #expect(error?.detail.contains("no transfer slot") == true, "\(String(describing: error))")
            #expect(seconds >= 0.29 && seconds < 1.0, "the waiting request failed after \(seconds) s")
            #expect(try await holder.status == 200)
            #expect(engine.statistics.queued == 0)
        }
    }

    /// Cancelling a waiting request's task ends it at once; the slot's holder is not disturbed.
    @Test func cancellingAWaitingRequest() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        try await withRunningEngine(HTTPEngine.Configuration(maxActiveTransfers: 1)) { engine in
            async let holder = engine.execute(HTTPRequest(url: server.baseURL + "/delay/800"))
            try await Task.sleep(for: .milliseconds(50))
            let waiter = Task { await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine) }
            try await waitForQueued(1, on: engine)
            let (error, seconds) = await measure {
                waiter.cancel()
                return await waiter.value
            }
            #expect(error?.code == .cancelled)
            #expect(seconds < 0.5)
            #expect(try await holder.status == 200)
            #expect(engine.statistics.inFlight == 0)
        }
    }

    /// A stop that fails in-flight requests fails the waiting ones too.
    @Test func shutdownFailsWaitingRequests() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { Task { try await server.stop() } }
        let engine = HTTPEngine(configuration: HTTPEngine.Configuration(shutdownBehavior: .failInFlight, maxActiveTransfers: 1))
        let runner = Task { try await engine.run() }
        let holder = Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang"), on: engine) }
        try await Task.sleep(for: .milliseconds(50))
        let waiter = Task { await failure(of: HTTPRequest(url: server.baseURL + "/hang"), on: engine) }
        try await waitForQueued(1, on: engine)
        runner.cancel()
        #expect(await waiter.value?.code == .shutdown)
        #expect(await holder.value?.code == .shutdown)
        _ = try? await runner.value
    }
}

/// The order in which requests ended.
private actor EndOrder {
    private(set) var names: [String] = []

    func append(_ name: String) { names.append(name) }
}
