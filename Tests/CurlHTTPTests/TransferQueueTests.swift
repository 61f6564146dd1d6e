import Testing

@testable import CurlHTTP

/// The engine's queue of requests waiting for a transfer slot: order within and across lanes, removal and
/// expiry, without libcurl.
struct TransferQueueTests {
    private let start = ContinuousClock.now

    private func at(_ milliseconds: Int) -> ContinuousClock.Instant {
        start + .milliseconds(milliseconds)
    }

    private func drain(_ queue: inout TransferQueue<String>) -> [String] {
        var taken: [String] = []
        while let entry = queue.popNext() { taken.append(entry.element) }
        return taken
    }

    @Test func oneLaneIsFirstInFirstOut() {
        var queue = TransferQueue<String>()
        for name in ["a1", "a2", "a3"] { queue.append(name, lane: "a", deadline: at(1000)) }
        #expect(queue.count == 3)
        #expect(drain(&queue) == ["a1", "a2", "a3"])
        #expect(queue.isEmpty)
        #expect(queue.earliestDeadline == nil)
    }

    /// A lane with a deep backlog (a slow target's calls) takes one turn in each round, never all of them.
    @Test func lanesTakeTurns() {
        var queue = TransferQueue<String>()
        for index in 1...4 { queue.append("slow\(index)", lane: "slow", deadline: at(1000)) }
        queue.append("fast1", lane: "fast", deadline: at(1000))
        queue.append("fast2", lane: "fast", deadline: at(1000))
        queue.append("other1", lane: "other", deadline: at(1000))
        #expect(drain(&queue) == ["slow1", "fast1", "other1", "slow2", "fast2", "slow3", "slow4"])
    }

    /// A lane that arrives while others wait goes after every lane already waiting in this round.
    @Test func aNewLaneWaitsForItsTurn() {
        var queue = TransferQueue<String>()
        queue.append("a1", lane: "a", deadline: at(1000))
        queue.append("a2", lane: "a", deadline: at(1000))
        queue.append("b1", lane: "b", deadline: at(1000))
        #expect(queue.popNext()?.element == "a1")
        queue.append("c1", lane: "c", deadline: at(1000))
        #expect(drain(&queue) == ["b1", "a2", "c1"])
    }

    @Test func removesAnEntryWhereverItWaits() {
        var queue = TransferQueue<String>()
        queue.append("a1", lane: "a", deadline: at(1000))
        queue.append("b1", lane: "b", deadline: at(1000))
        queue.append("b2", lane: "b", deadline: at(1000))
        #expect(queue.remove { $0 == "b1" } == "b1")
        #expect(queue.remove { $0 == "missing" } == nil)
        #expect(queue.remove { $0 == "a1" } == "a1")
        #expect(queue.count == 1)
        #expect(drain(&queue) == ["b2"])
    }

    /// Entries whose deadline passed leave together, whatever their lane; the earliest deadline left is known.
    @Test func expiresByDeadline() {
        var queue = TransferQueue<String>()
        queue.append("a1", lane: "a", deadline: at(300))
        queue.append("a2", lane: "a", deadline: at(100))
        queue.append("b1", lane: "b", deadline: at(200))
        queue.append("b2", lane: "b", deadline: at(500))
        #expect(queue.earliestDeadline == at(100))
        #expect(queue.removeExpired(now: at(50)).isEmpty)
        #expect(queue.removeExpired(now: at(200)).map(\.element).sorted() == ["a2", "b1"])
        #expect(queue.count == 2)
        #expect(queue.earliestDeadline == at(300))
        #expect(drain(&queue) == ["a1", "b2"])
    }

    @Test func removeAllEmptiesIt() {
        var queue = TransferQueue<String>()
        queue.append("a1", lane: "a", deadline: at(100))
        queue.append("b1", lane: "b", deadline: at(100))
        #expect(queue.removeAll().sorted() == ["a1", "b1"])
        #expect(queue.isEmpty)
        #expect(queue.popNext() == nil)
        #expect(queue.earliestDeadline == nil)
    }
}
