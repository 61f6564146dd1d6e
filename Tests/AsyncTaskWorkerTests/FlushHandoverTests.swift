import AsyncTaskCore
import Logging
import Testing

@testable import AsyncTaskWorker

/// An outcome flush hands the next attempt of each ordering key it passes on to the node that ran the key's
/// last one: the room it reserves (the prefetch buffer's bounds), and the node starting what it was handed,
/// against the in-memory driver (which parks, hands over and promotes as the flush statement does).
@Suite("Handover of ordering keys' next attempts by the outcome flush")
struct FlushHandoverTests {
    @Test("room for handovers: the node's bound, whatever a target's depth, with prefetching on; a target's free slots with it off")
    func reservesWithinBounds() {
        var buffer = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 4, "B": 4])
        let claim = buffer.reserve(batch: 3, depth: 2)
        #expect(claim.total == 3)
        let plan = buffer.reserveHandover(["A": 9, "B": 4], nodeDepth: 2)
        // The node's bound is 12: A takes the 9 it wants, B the 3 left (the claim's reservation is not counted).
        #expect(plan.caps.map(\.target) == ["A", "B"])
        #expect(plan.caps.map(\.limit) == [9, 3])
        // Reserved room counts for claims: none is left.
        #expect(buffer.reserve(batch: 100, depth: 2).isEmpty)
        // Nor for a second flush's handovers until this one ends.
        #expect(buffer.reserveHandover(["A": 1], nodeDepth: 2).isEmpty)
        _ = buffer.commitHandover(plan, leased: [])
        #expect(buffer.reserveHandover(["A": 1], nodeDepth: 2).total == 1)

        var off = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 4])
        #expect(off.reserveHandover(["A": 9], nodeDepth: 0).total == 4)
    }

    @Test("a short handover leaves the target claimable; nothing for a paused target or after the drain closed the buffer")
    func shortPausedClosed() {
        var buffer = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 4, "B": 4])
        let plan = buffer.reserveHandover(["A": 3], nodeDepth: 0)
        #expect(plan.total == 3)
        let started = buffer.commitHandover(plan, leased: PrefetchBufferTests.attempts("A", 1..<2))
        #expect(started.map(\.id) == [1])
        #expect(buffer.inFlight == 1)
        // One handed over of three reserved says nothing about what else is due: A is still claimed for.
        #expect(buffer.reserve(batch: 100, depth: 0).caps.map(\.target) == ["A", "B"])

        var paused = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 4])
        _ = paused.pause(["A"])
        #expect(paused.reserveHandover(["A": 3], nodeDepth: 4).isEmpty)

        var closed = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 4])
        _ = closed.close()
        #expect(closed.reserveHandover(["A": 3], nodeDepth: 4).isEmpty)
    }

    @Test("a handover that lands after the drain began goes back at once: due again, its try undone, counted as released")
    func lateHandoverReleased() async throws {
        let clock = ManualClock()
        let driver = InMemoryWorkerDriver(clock: clock, lease: .seconds(30))
        let id = driver.enqueue(target: "A")
        let capacity = CapacityTracker(nodeLimit: 10, targetLimits: ["A": 4], prefetch: 4)
        // The flush reserves room and leases the key's next attempt; the drain closes the buffer meanwhile.
        let reservation = capacity.reserveHandover(["A": 1])
        #expect(reservation.total == 1)
        let leased = try await driver.claim(reservation).attempts
        #expect(leased.map(\.id) == [id])
        #expect(capacity.close().isEmpty)
        let leases = HeldLeases()
        let metrics = WorkerMetrics()
        let handover = FlushHandover.node(
            capacity: capacity, leases: leases, claimDue: WakeSignal(clock: clock),
            release: UnstartedRelease(
                driver: driver, leases: leases, metrics: metrics, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        await handover.commit(reservation, leased, clock.now)
        let row = try #require(driver.row(id))
        #expect(!row.lockedByThisNode)
        #expect(row.numAttempts == 0)
        #expect(row.status == .pending)
        #expect(metrics.totals["released"] == 1)
        #expect(leases.snapshot.isEmpty)
        #expect(capacity.inFlight == 0)
        #expect(capacity.takeHandedOver().isEmpty)
    }

    @Test("a target with a cluster-wide limit is never handed over: the claim function alone leases its attempts")
    func limitedTargetsClaimOnly() {
        let capacity = CapacityTracker(nodeLimit: 10, targetLimits: ["A": 4, "B": 4])
        capacity.setLimits(["A": TargetLimits(globalConcurrency: 3)])
        let plan = capacity.reserveHandover(["A": 2, "B": 2])
        #expect(plan.caps.map(\.target) == ["B"])
    }

    @Test("each key's next attempt is handed to the node that ran the last one and starts at once, keys in order, one call per key at a time")
    func keysRunThroughHandovers() async throws {
        let node = try NodeHarness(targets: ["A": 4], nodeConcurrency: 8)
        var ids: [String: [Int64]] = [:]
        for round in 0..<4 {
            for key in ["k1", "k2", "k3"] {
                ids[key, default: []].append(node.driver.enqueue(target: "A", args: #"{"round":\#(round)}"#, orderingKey: key))
            }
        }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.driver.rows.allSatisfy { $0.status == .succeeded } })
        }
        let rows = node.driver.rows
        for (key, keyIDs) in ids {
            let called = node.caller.calls.map(\.attemptID).filter { keyIDs.contains($0) }
            #expect(called == keyIDs, "key \(key) was called out of order: \(called)")
            // The head came from a claim; every later attempt of the key from the flush of its predecessor.
            #expect(rows.first { $0.id == keyIDs[0] }?.leasedBy == .claim)
            #expect(keyIDs.dropFirst().allSatisfy { id in rows.first { $0.id == id }?.leasedBy == .handover })
        }
        #expect(node.driver.rows.allSatisfy { $0.tries == ["succeeded"] && !$0.lockedByThisNode })
        #expect(node.leases.snapshot.isEmpty)
    }
}
