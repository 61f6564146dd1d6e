import AsyncTaskTargets
import Testing

@testable import AsyncTaskWorker

@Suite("Reaping gate, lease renewal and the database retry pause")
struct ReapingAndLeaseTests {
    let start = ContinuousClock.now

    @Test("a node reaps only once its own heartbeats have gone through for dead_after")
    func reapsAfterDeadAfter() {
        var gate = ReapingGate(deadAfter: .seconds(30), startedAt: start)
        #expect(gate.heartbeatSucceeded(at: start + .seconds(10)).reap == false)
        #expect(gate.heartbeatSucceeded(at: start + .seconds(30)).reap == true)
    }

    @Test("a failed heartbeat restarts the wait: right after an outage every node's heartbeat is stale")
    func failureRestartsTheWait() {
        var gate = ReapingGate(deadAfter: .seconds(30), startedAt: start)
        #expect(gate.heartbeatSucceeded(at: start + .seconds(40)).reap)
        gate.heartbeatFailed(at: start + .seconds(42))
        gate.heartbeatFailed(at: start + .seconds(44))
        let back = gate.heartbeatSucceeded(at: start + .seconds(50))
        #expect(back.reap == false)
        #expect(back.reachableAgainAfter == .seconds(8))
        #expect(gate.heartbeatSucceeded(at: start + .seconds(79)).reap == false)
        #expect(gate.heartbeatSucceeded(at: start + .seconds(80)).reap == true)
    }

    @Test("'reachable again' is reported once, on the first heartbeat through after failures")
    func reachableAgainOnce() {
        var gate = ReapingGate(deadAfter: .seconds(30), startedAt: start)
        #expect(gate.heartbeatSucceeded(at: start + .seconds(2)).reachableAgainAfter == nil)
        gate.heartbeatFailed(at: start + .seconds(4))
        #expect(gate.heartbeatSucceeded(at: start + .seconds(6)).reachableAgainAfter == .seconds(2))
        #expect(gate.heartbeatSucceeded(at: start + .seconds(8)).reachableAgainAfter == nil)
    }

    @Test("a lease is renewed only once it would lapse within half a lease, and then to a full lease from now")
    func renewalWindow() {
        let renewal = LeaseRenewal(lease: .seconds(30))
        #expect(renewal.window == .seconds(15))
        #expect(renewal.isDue(lapsesAt: start + .seconds(20), now: start) == false)
        #expect(renewal.isDue(lapsesAt: start + .seconds(15), now: start) == false)
        #expect(renewal.isDue(lapsesAt: start + .seconds(14), now: start) == true)
        #expect(renewal.renewed(at: start + .seconds(16)) == start + .seconds(46))
    }

    @Test("after failed database round trips the node pauses 200 ms, doubling, at most 5 s")
    func databaseRetryPauses() {
        let pauses = (1...8).map { Backoff.databaseRetry.ceiling(afterAttempt: $0) }
        #expect(
            pauses == [
                .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5),
                .seconds(5),
            ])
    }

    @Test("the unserved-targets warning runs every 15 heartbeats")
    func cadences() {
        let cadences = NodeCadences(heartbeat: .seconds(2))
        #expect(cadences.unservedTargets == .seconds(30))
    }

    @Test("the leases held are those claimed and not yet settled")
    func heldLeases() {
        let leases = HeldLeases()
        let attempts = (1...3).map {
            ClaimedAttempt(
                id: Int64($0), target: "T", methodName: "m", methodArgs: "{}", encryptor: nil, attemptNumber: 2, maxAttempts: nil,
                idempotenceToken: nil)
        }
        leases.insert(attempts)
        leases.remove([attempts[1]])
        #expect(Set(leases.snapshot) == [.init(id: 1, attemptNumber: 2), .init(id: 3, attemptNumber: 2)])
    }
}
