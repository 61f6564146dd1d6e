import AsyncTaskCore
import AsyncTaskTargets
import Logging
import Synchronization
import Testing

@testable import AsyncTaskWorker

/// The node's claim loop, executor and recorder against the in-memory driver, a scripted caller and a manual
/// clock: no PostgreSQL, no HTTP, no sleeps in real time beyond letting tasks run.
@Suite("Node loop on the in-memory driver")
struct NodeLoopTests {
    @Test("claimed attempts are called and their successes recorded, each lease then let go")
    func claimsCallsRecords() async throws {
        let node = try NodeHarness(targets: ["A": 4])
        let ids = (0..<3).map { _ in node.driver.enqueue(target: "A") }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.driver.rows.allSatisfy { $0.status == .succeeded } })
        }
        #expect(node.caller.calls.map(\.attemptID).sorted() == ids)
        #expect(node.driver.rows.allSatisfy { $0.tries == ["succeeded"] && !$0.lockedByThisNode })
        #expect(node.leases.snapshot.isEmpty)
    }

    @Test("a retryable failure is retried after its delay on the injected clock, and not before")
    func retryAfterDelay() async throws {
        let caller = ScriptedCaller { call, _ in
            call.attemptNumber == 1
                ? .retryable(kind: .httpStatus, message: "503", httpStatus: 503, retryAfter: .seconds(30), excerpt: "")
                : .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], pollInterval: .seconds(1), caller: caller)
        let id = node.driver.enqueue(target: "A")
        try await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.driver.row(id)?.tries == ["retry"] })
            #expect(node.driver.row(id)?.status == .pending)
            #expect(node.driver.row(id)?.lastErrorKind == .httpStatus)

            // Polls claim again as the clock moves, but nothing is called before the attempt is due.
            let due = try #require(node.driver.row(id)?.availableAt)
            #expect(due == node.clock.now + .seconds(30))
            let claimsBefore = node.driver.claims.count
            while node.clock.now < due {
                #expect(node.caller.calls.count == 1)
                node.clock.advance(by: .milliseconds(500))
                try? await Task.sleep(for: .milliseconds(1))
            }
            #expect(node.driver.claims.count > claimsBefore)
            #expect(await node.clock.advance(upTo: .seconds(5)) { node.driver.row(id)?.status == .succeeded })
        }
        #expect(node.caller.calls.map(\.attemptNumber) == [1, 2])
        #expect(node.driver.row(id)?.tries == ["retry", "succeeded"])
    }

    @Test("a full per-target cap stops claims for that target only")
    func perTargetCap() async throws {
        let slow = Gate()
        let caller = ScriptedCaller { _, target in
            if target.name == "A" { await slow.wait() }
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1, "B": 5], caller: caller)
        for _ in 0..<3 { node.driver.enqueue(target: "A") }
        for _ in 0..<3 { node.driver.enqueue(target: "B") }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.driver.rows.filter { $0.target == "B" }.allSatisfy { $0.status == .succeeded } })
            // A's one slot is taken: its other attempts stay unclaimed while B's ran.
            #expect(node.driver.rows.filter { $0.target == "A" }.map(\.numAttempts).sorted() == [0, 0, 1])
            #expect(node.caller.inFlight == 1)
            slow.open()
            #expect(await eventually { node.driver.rows.allSatisfy { $0.status == .succeeded } })
        }
        #expect(node.driver.claims.allSatisfy { plan in plan.caps.allSatisfy { $0.target != "A" || $0.limit <= 1 } })
    }

    @Test("a paused target is not claimed nor started; its claimed-ahead attempts go back with their tries; resume runs them")
    func pauseAndResume() async throws {
        let gate = Gate()
        let caller = ScriptedCaller { _, target in
            if target.name == "A" { await gate.wait() }
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1, "B": 4], prefetch: 4, caller: caller)
        let a = (0..<4).map { _ in node.driver.enqueue(target: "A") }
        for _ in 0..<3 { node.driver.enqueue(target: "B") }
        try await node.run { node in
            node.claimDue.signal()
            // A's one slot is busy (held by the gate) and more of A's attempts are claimed ahead of it.
            #expect(await eventually { node.caller.inFlight == 1 && node.capacity.buffered > 0 })
            node.driver.setPaused(["A"])
            try await node.controls.apply(TargetControlState(paused: ["A"]))
            #expect(node.capacity.buffered == 0)
            gate.open()
            #expect(await eventually { node.driver.rows.filter { $0.target == "B" }.allSatisfy { $0.status == .succeeded } })
            #expect(await eventually { node.driver.row(a[0])?.status == .succeeded })
            // The call in flight finished; the rest were never called and keep every try.
            for id in a.dropFirst() {
                #expect(
                    node.driver.row(id)?.status == .pending && node.driver.row(id)?.numAttempts == 0 && node.driver.row(id)?.lockedByThisNode == false
                )
            }
            node.claimDue.signal()
            try? await Task.sleep(for: .milliseconds(50))
            #expect(node.caller.calls.filter { $0.target == "A" }.count == 1)

            node.driver.setPaused([])
            try await node.controls.apply(TargetControlState())
            #expect(await eventually { node.driver.rows.allSatisfy { $0.status == .succeeded } })
        }
        #expect(node.caller.calls.filter { $0.target == "A" }.map(\.attemptID).sorted() == a)
    }

    @Test("a target with global_concurrency is claimed within the limit, nothing ahead while its slots are free; calls ending claim again")
    func globalConcurrency() async throws {
        let gate = Gate()
        let caller = ScriptedCaller { _, target in
            if target.name == "A" { await gate.wait() }
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 4, "B": 4], prefetch: 8, globalConcurrency: ["A": 2], caller: caller)
        let a = (0..<6).map { _ in node.driver.enqueue(target: "A") }
        for _ in 0..<3 { node.driver.enqueue(target: "B") }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 2 })
            #expect(await eventually { node.driver.rows.filter { $0.target == "B" }.allSatisfy { $0.status == .succeeded } })
            // Only the two in flight hold a lease: nothing of A waits in the buffer.
            #expect(node.driver.rows.filter { $0.target == "A" && $0.lockedByThisNode }.count == 2)
            #expect(node.capacity.buffered == 0)
            #expect(node.driver.claims.allSatisfy { $0.limits["B"] == nil })
            #expect(node.driver.claims.contains { $0.limits["A"]?.globalConcurrency == 2 })
            gate.open()
            #expect(await eventually { node.driver.rows.allSatisfy { $0.status == .succeeded } })
        }
        #expect(node.caller.peakInFlight(target: "A") <= 2)
        #expect(node.caller.calls.filter { $0.target == "A" }.map(\.attemptID).sorted() == a)
    }

    @Test("drain lets in-flight calls finish and claims nothing new")
    func drainFinishesInFlight() async throws {
        let hold = Gate()
        let caller = ScriptedCaller { _, _ in
            await hold.wait()
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 2], caller: caller)
        let running = (0..<2).map { _ in node.driver.enqueue(target: "A") }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 2 })
            let late = node.driver.enqueue(target: "A")
            let claims = node.driver.claims.count
            node.drain()
            // Poll intervals pass: a running loop would claim the late attempt now.
            for _ in 0..<3 { node.clock.advance(by: .seconds(1)) }
            try? await Task.sleep(for: .milliseconds(20))
            #expect(node.driver.claims.count == claims)
            #expect(node.driver.row(late)?.numAttempts == 0)
            hold.open()
        }
        #expect(running.allSatisfy { node.driver.row($0)?.status == .succeeded })
        #expect(node.caller.calls.count == 2)
    }

    @Test("drain gives back the attempts claimed ahead and never started, their claim undone")
    func drainReleasesPrefetched() async throws {
        let hold = Gate()
        let caller = ScriptedCaller { _, _ in
            await hold.wait()
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], prefetch: 4, caller: caller)
        for _ in 0..<3 { node.driver.enqueue(target: "A") }
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 1 && node.capacity.buffered == 1 })
            node.drain()
            #expect(await eventually { node.capacity.buffered == 0 && node.driver.rows.filter(\.lockedByThisNode).count == 1 })
            hold.open()
        }
        #expect(node.caller.calls.count == 1)
        #expect(node.driver.rows.map(\.status.rawValue).sorted() == ["pending", "pending", "succeeded"])
        #expect(node.driver.rows.filter { $0.status == .pending }.allSatisfy { $0.numAttempts == 0 && !$0.lockedByThisNode })
    }

    @Test("when the shutdown grace ends, calls still in flight are cancelled and their leases given back")
    func graceOverCancels() async throws {
        let caller = ScriptedCaller { _, _ in
            try? await Task.sleep(for: .seconds(3600))
            return Task.isCancelled
                ? .retryable(kind: .cancelled, message: "cancelled", httpStatus: nil, retryAfter: nil, excerpt: "")
                : .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], shutdownGrace: .seconds(5), caller: caller)
        let id = node.driver.enqueue(target: "A")
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 1 })
            node.drain()
            try? await Task.sleep(for: .milliseconds(20))
            #expect(node.caller.inFlight == 1)
            // Steps, not one jump: the drain arms its grace timer on the clock when it gets to it, which on a
            // loaded machine can be after a single advance would have happened.
            #expect(await node.clock.advance(step: .seconds(1), upTo: .seconds(60)) { node.caller.inFlight == 0 })
        }
        #expect(node.driver.row(id)?.tries == ["released"])
        #expect(node.driver.row(id)?.status == .pending)
        #expect(node.driver.row(id)?.lockedByThisNode == false)
    }

    @Test("outcomes wait in memory while the database is unreachable and are written once it is back")
    func outageKeepsOutcomes() async throws {
        // The call waits until the database is down, so its outcome cannot be written before the outage.
        let hold = Gate()
        let caller = ScriptedCaller { _, _ in
            await hold.wait()
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], caller: caller)
        let id = node.driver.enqueue(target: "A")
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 1 })
            node.driver.setUnreachable(true)
            hold.open()
            #expect(await eventually { node.caller.calls.count == 1 && node.recorder.backlog == 1 })
            // The recorder pauses on the clock between tries (Backoff.databaseRetry); several pass.
            for _ in 0..<3 {
                node.clock.advance(by: .seconds(5))
                try? await Task.sleep(for: .milliseconds(5))
            }
            #expect(node.recorder.backlog == 1)
            node.driver.setUnreachable(false)
            node.clock.advance(by: .seconds(5))
            #expect(await eventually { node.driver.row(id)?.status == .succeeded })
        }
        #expect(node.recorder.backlog == 0)
    }

    @Test("an outcome whose lease was taken over meanwhile is fenced out, and its lease no longer renewed")
    func lostLeaseIsFenced() async throws {
        let hold = Gate()
        let caller = ScriptedCaller { _, _ in
            await hold.wait()
            return .succeeded(status: 200, excerpt: "")
        }
        let node = try NodeHarness(targets: ["A": 1], caller: caller)
        let id = node.driver.enqueue(target: "A")
        await node.run { node in
            node.claimDue.signal()
            #expect(await eventually { node.caller.inFlight == 1 })
            #expect(node.leases.snapshot.map(\.id) == [id])
            node.driver.reclaimElsewhere(id)
            hold.open()
            #expect(await eventually { node.leases.snapshot.isEmpty && node.recorder.backlog == 0 })
        }
        #expect(node.driver.row(id)?.status == .pending)
        #expect(node.driver.row(id)?.tries == [])
    }
}
