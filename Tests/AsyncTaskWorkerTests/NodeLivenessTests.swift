import AsyncTaskCore
import AsyncTaskTargets
import Logging
import Testing

@testable import AsyncTaskWorker

/// The heartbeat service on the in-memory driver and a manual clock.
@Suite("Node liveness: heartbeat, lease renewal, reaping")
struct NodeLivenessTests {
    static func liveness(_ node: NodeHarness, heartbeat: Duration, deadAfter: Duration = .seconds(30)) -> NodeLiveness {
        NodeLiveness(
            interval: heartbeat, deadAfter: deadAfter, driver: node.driver, leases: node.leases,
            renewal: LeaseRenewal(lease: node.driver.lease), report: { (0, [:], .active) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), clock: node.clock)
    }

    @Test("a lease about to lapse is renewed before it does, and not while it still has more than half a lease")
    func renewsBeforeLapse() async throws {
        let hold = Gate()
        let caller = ScriptedCaller { _, _ in
            await hold.wait()
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], lease: .seconds(10), caller: caller)
        let id = node.driver.enqueue(target: "A")
        try await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 1 })
            let firstLapse = try #require(node.driver.row(id)?.availableAt)
            let liveness = Self.liveness(node, heartbeat: .seconds(2))
            let task = Task { await liveness.run() }
            defer { task.cancel() }
            #expect(await node.clock.advance(upTo: .seconds(20)) { node.driver.counts.renewals == 1 })
            let renewedAt = try #require(node.driver.row(id)?.availableAt) - node.driver.lease
            #expect(renewedAt < firstLapse)
            #expect(renewedAt >= firstLapse - .seconds(5))
            #expect(node.driver.renewCalls > 1)
            hold.open()
        }
        #expect(node.driver.row(id)?.status == .succeeded)
    }

    @Test("a node reaps others only after its own heartbeats went through for dead_after")
    func reapsAfterDeadAfter() async throws {
        let node = try NodeHarness(targets: ["A": 1])
        try await node.driver.register()
        let liveness = Self.liveness(node, heartbeat: .seconds(1), deadAfter: .seconds(5))
        let task = Task { await liveness.run() }
        defer { task.cancel() }
        #expect(await node.clock.advance(upTo: .seconds(4)) { node.driver.counts.heartbeats >= 3 })
        #expect(node.driver.counts.reaps == 0)
        #expect(await node.clock.advance(upTo: .seconds(10)) { node.driver.counts.reaps >= 1 })
    }

    @Test("a node whose row vanished registers again at its next heartbeat")
    func registersAgain() async throws {
        let node = try NodeHarness(targets: ["A": 1])
        let liveness = Self.liveness(node, heartbeat: .seconds(1))
        let task = Task { await liveness.run() }
        defer { task.cancel() }
        #expect(await node.clock.advance(upTo: .seconds(5)) { node.driver.counts.heartbeats >= 2 })
        #expect(try await node.driver.heartbeat(inFlight: 0, counters: [:], status: .active) == .active)
    }
}
