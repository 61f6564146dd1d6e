import Testing

@testable import AsyncTaskWorker

/// The prefetch buffer's decisions (refill, start, hand-over, release on drain) and its sizing, without I/O.
@Suite("Prefetch buffer and its sizing")
struct PrefetchBufferTests {
    static func attempts(_ target: String, _ ids: Range<Int64>) -> [ClaimedAttempt] {
        ids.map {
            ClaimedAttempt(
                id: $0, target: target, methodName: "m", methodArgs: "{}", encryptor: nil, attemptNumber: 1, maxAttempts: nil, idempotenceToken: nil)
        }
    }

    /// Claims `count` attempts of `target` for the reservation (as many as the database had).
    static func claim(_ buffer: inout PrefetchBuffer, batch: Int = 1000, depth: Int, have: [String: Int], next: inout Int64) -> [ClaimedAttempt] {
        let reservation = buffer.reserve(batch: batch, depth: depth)
        var claimed: [ClaimedAttempt] = []
        for cap in reservation.caps {
            let n = min(cap.limit, have[cap.target] ?? 0, reservation.total - claimed.count)
            claimed += attempts(cap.target, next..<(next + Int64(n)))
            next += Int64(n)
        }
        return buffer.commit(reservation, claimed: claimed)
    }

    @Test("a claim takes the free slots plus the depth; the surplus waits in the buffer and starts as slots free")
    func fillsSlotsAndBuffer() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 10])
        var next: Int64 = 1
        let started = Self.claim(&buffer, depth: 8, have: ["A": 100], next: &next)
        #expect(started.count == 10)
        #expect(buffer.inFlight == 10)
        #expect(buffer.buffered == 8)
        // A call ends: its slot takes the oldest buffered attempt at once.
        let (handed, _) = buffer.finish(target: "A", depth: 8)
        #expect(handed?.id == 11)
        #expect(buffer.inFlight == 10)
        #expect(buffer.buffered == 7)
    }

    @Test("refill only at half the depth, up to the full depth: claims come in batches, not one per freed slot")
    func refillsAtHalfDepth() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 64])
        var next: Int64 = 1
        _ = Self.claim(&buffer, depth: 64, have: ["A": 10_000], next: &next)
        #expect(buffer.buffered == 64)
        var refillAt: Int?
        for finished in 1...64 {
            let (handed, refill) = buffer.finish(target: "A", depth: 64)
            #expect(handed != nil)
            if refill, refillAt == nil { refillAt = finished }
        }
        #expect(refillAt == 32)
        #expect(buffer.reserve(batch: 1000, depth: 64).total == 64)
        var full = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 64])
        _ = Self.claim(&full, depth: 64, have: ["A": 10_000], next: &next)
        _ = full.finish(target: "A", depth: 64)
        #expect(full.reserve(batch: 1000, depth: 64).caps.isEmpty, "one freed slot with 63 buffered is no reason to claim")
    }

    @Test("calls in flight never exceed a target's concurrency nor the node's, whatever is buffered")
    func capsHold() {
        var buffer = PrefetchBuffer(nodeLimit: 12, targetLimits: ["A": 8, "B": 8])
        var next: Int64 = 1
        var running = Self.claim(&buffer, depth: 16, have: ["A": 1000, "B": 1000], next: &next)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            #expect(buffer.inFlight <= 12)
            #expect((buffer.inFlightPerTarget["A"] ?? 0) <= 8)
            #expect((buffer.inFlightPerTarget["B"] ?? 0) <= 8)
            #expect(buffer.inFlight == running.count)
            #expect(buffer.inFlight + buffer.buffered <= 12 + 16)
            if !running.isEmpty, Bool.random(using: &rng) {
                let done = running.remove(at: Int.random(in: 0..<running.count, using: &rng))
                if let handed = buffer.finish(target: done.target, depth: 16).next { running.append(handed) }
            } else {
                running += Self.claim(&buffer, batch: 5, depth: 16, have: ["A": 1000, "B": 1000], next: &next)
            }
        }
    }

    @Test("with depth 0 (prefetch off) a claim takes only free slots")
    func depthZero() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 4])
        var next: Int64 = 1
        #expect(Self.claim(&buffer, depth: 0, have: ["A": 100], next: &next).count == 4)
        #expect(buffer.buffered == 0)
        #expect(buffer.reserve(batch: 100, depth: 0).caps.isEmpty)
        let (handed, refill) = buffer.finish(target: "A", depth: 0)
        #expect(handed == nil && refill)
        #expect(buffer.reserve(batch: 100, depth: 0).total == 1)
    }

    @Test("a target whose claim came back short is quiet until woken; a busy target is still claimed for")
    func quietTargets() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["Busy": 4, "Idle": 4])
        var next: Int64 = 1
        _ = Self.claim(&buffer, depth: 4, have: ["Busy": 100], next: &next)
        #expect(buffer.buffered(target: "Busy") == 4)
        for _ in 0..<2 { _ = buffer.finish(target: "Busy", depth: 4) }
        let reservation = buffer.reserve(batch: 100, depth: 4)
        #expect(reservation.caps.map(\.target) == ["Busy"], "the idle target came back empty: not asked again until woken")
        _ = buffer.commit(reservation, claimed: [])
        buffer.wake()
        #expect(Set(buffer.reserve(batch: 100, depth: 4).caps.map(\.target)) == ["Busy", "Idle"])
    }

    @Test("a NOTIFY that lands while a claim is under way is not lost: the short claim does not turn the target quiet")
    func wakeDuringClaim() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 4])
        let empty = buffer.reserve(batch: 100, depth: 4)
        buffer.wake()  // a row committed after the claim's snapshot
        _ = buffer.commit(empty, claimed: [])
        #expect(buffer.reserve(batch: 100, depth: 4).caps.map(\.target) == ["A"])
        // Without a wake in between, the same short claim does turn it quiet.
        var other = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 4])
        _ = other.commit(other.reserve(batch: 100, depth: 4), claimed: [])
        #expect(other.reserve(batch: 100, depth: 4).caps.isEmpty)
    }

    @Test("close returns every buffered attempt once, starts nothing more, and catches a claim that lands late")
    func closeReleasesBuffered() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 2])
        var next: Int64 = 1
        #expect(Self.claim(&buffer, depth: 2, have: ["A": 100], next: &next).count == 2)
        #expect(buffer.buffered == 2)
        #expect(buffer.finish(target: "A", depth: 2).next?.id == 3)
        let late = buffer.reserve(batch: 100, depth: 2)
        #expect(late.total == 1)
        #expect(buffer.close().map(\.id) == [4])
        #expect(buffer.buffered == 0)
        #expect(buffer.finish(target: "A", depth: 2).next == nil)
        #expect(buffer.reserve(batch: 100, depth: 2).caps.isEmpty)
        #expect(buffer.commit(late, claimed: Self.attempts("A", 100..<101)).isEmpty)
        #expect(buffer.closedClaims().map(\.id) == [100])
        #expect(buffer.close().isEmpty)
        #expect(buffer.inFlight == 1)
    }

    @Test("take hands out nothing while the target's slots are full (the batching hook), its next in order when one frees")
    func takeRespectsCaps() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 3])
        var next: Int64 = 1
        #expect(Self.claim(&buffer, depth: 3, have: ["A": 100], next: &next).map(\.id) == [1, 2, 3])
        #expect(buffer.take(target: "A", limit: 10).isEmpty)
        #expect(buffer.finish(target: "A", depth: 3).next?.id == 4)
        #expect(buffer.inFlight == 3)
        #expect(buffer.buffered == 2)
    }

    @Test("the depth follows the target's rate × claim round trip (at least 30 ms of calls), within its bounds; 0 turns prefetching off")
    func sizing() {
        var sizing = PrefetchSizing(minimum: 8, maximum: 256)
        #expect(sizing.depth() == 8)
        #expect(sizing.depth(concurrency: 4) == 4, "an idle or slow target keeps no more than its concurrency ahead")
        let start = ContinuousClock.now
        sizing.observeCompletions(total: 0, at: start)
        sizing.observeClaim(.milliseconds(5))
        var total = 0
        for step in 1...50 {
            total += 200  // 2,000 calls/s in 100 ms windows
            sizing.observeCompletions(total: total, at: start + .milliseconds(100 * step))
        }
        #expect(abs(sizing.rate - 2000) < 20)
        #expect(sizing.depth() == 60)  // 2,000/s × 30 ms: a claim round trip of 5 ms is below the floor of the lookahead
        for _ in 0..<40 { sizing.observeClaim(.milliseconds(20)) }
        #expect((158...162).contains(sizing.depth()))  // 2,000/s × 4 × 20 ms
        #expect(sizing.depth(concurrency: 4) == sizing.depth(), "a busy target's depth follows its rate, not its concurrency")
        sizing.observeClaim(.milliseconds(500))
        #expect(sizing.depth() == 256)
        #expect(PrefetchSizing(maximum: 0).depth() == 0)
        #expect(PrefetchSizing(minimum: 8, maximum: 3).depth() == 3)
        // Samples closer together than the window are ignored, not divided by a tiny interval.
        var jumpy = PrefetchSizing(maximum: 256)
        jumpy.observeCompletions(total: 0, at: start)
        jumpy.observeCompletions(total: 500, at: start + .microseconds(10))
        #expect(jumpy.rate == 0)
    }

    @Test("a paused target gets no reservation and no start; pause hands back its buffer; resume wakes it")
    func pauseAndResume() {
        var buffer = PrefetchBuffer(nodeLimit: 512, targetLimits: ["A": 2, "B": 2])
        var next: Int64 = 1
        let started = Self.claim(&buffer, depth: 3, have: ["A": 100, "B": 100], next: &next)
        #expect(started.count == 4 && buffer.buffered == 6)
        let (unstarted, resumed) = buffer.pause(["A"])
        #expect(unstarted.count == 3 && unstarted.allSatisfy { $0.target == "A" } && !resumed)
        #expect(buffer.buffered == 3 && buffer.inFlight == 4)
        // A's call ends: nothing starts (A is paused, B's slots are full); B's call ends: B's next starts.
        let (afterA, _) = buffer.finish(target: "A", depth: 3)
        #expect(afterA == nil && buffer.inFlight == 3)
        let (afterB, _) = buffer.finish(target: "B", depth: 3)
        #expect(afterB?.target == "B" && buffer.inFlight == 3)
        let reservation = buffer.reserve(batch: 1000, depth: 3)
        #expect(!reservation.caps.contains { $0.target == "A" })
        _ = buffer.commit(reservation, claimed: [])
        let (none, resumedNow) = buffer.pause([])
        #expect(none.isEmpty && resumedNow)
        #expect(buffer.reserve(batch: 1000, depth: 3).caps.contains { $0.target == "A" })

        // Attempts a claim under way at the pause brings in later do not start; the next read hands them back.
        var other = PrefetchBuffer(nodeLimit: 10, targetLimits: ["A": 2])
        let plan = other.reserve(batch: 10, depth: 0)
        _ = other.pause(["A"])
        #expect(other.commit(plan, claimed: Self.attempts("A", 900..<902)).isEmpty)
        #expect(other.pause(["A"]).unstarted.map(\.id) == [900, 901])
        #expect(other.buffered == 0 && other.inFlight == 0)
    }
}
