import DequeModule

/// Requests that wait for a transfer slot while libcurl holds ``HTTPEngine/Configuration/maxActiveTransfers``
/// transfers: first in, first out within a lane (``HTTPRequest/lane``), the lanes taking turns, so that a
/// lane whose calls are slow holds its own turn only and never the others' requests behind its own.
///
/// Each entry carries its deadline (submission + the request's timeout): the engine fails an entry whose
/// deadline passes while it waits, so a call's timeout counts from its submission, not from its start inside
/// libcurl. Confined to the engine thread; pure, so its order and expiry are tested without libcurl.
struct TransferQueue<Element> {
    /// One waiting request.
    struct Entry {
        let element: Element
        let deadline: ContinuousClock.Instant
    }

    private var lanes: [String: Deque<Entry>] = [:]
    /// The lanes with waiting entries, in turn order; `turn` indexes the lane that goes next.
    private var order: [String] = []
    private var turn = 0
    /// No entry's deadline is earlier than this (it may be earlier than the earliest: it is recomputed when
    /// it passes, not at every removal).
    private(set) var earliestDeadline: ContinuousClock.Instant?

    /// Entries waiting.
    private(set) var count = 0

    /// True when nothing waits.
    var isEmpty: Bool { count == 0 }

    /// Adds `element` at the end of `lane`.
    mutating func append(_ element: Element, lane: String, deadline: ContinuousClock.Instant) {
        if lanes[lane] == nil {
            lanes[lane] = Deque()
            // Behind every lane that already waits: it is its turn after theirs.
            order.insert(lane, at: turn)
            turn += 1
            if turn >= order.count { turn = 0 }
        }
        lanes[lane]!.append(Entry(element: element, deadline: deadline))
        count += 1
        if earliestDeadline.map({ deadline < $0 }) ?? true { earliestDeadline = deadline }
    }

    /// Takes the first entry of the lane whose turn it is; the next lane goes next.
    mutating func popNext() -> Entry? {
        guard !order.isEmpty else { return nil }
        if turn >= order.count { turn = 0 }
        let lane = order[turn]
        let entry = lanes[lane]!.removeFirst()
        count -= 1
        if lanes[lane]!.isEmpty {
            lanes[lane] = nil
            order.remove(at: turn)
        } else {
            turn += 1
        }
        if turn >= order.count { turn = 0 }
        if count == 0 { earliestDeadline = nil }
        return entry
    }

    /// Removes and returns the first entry that `matches`, wherever it waits.
    mutating func remove(where matches: (Element) -> Bool) -> Element? {
        for (index, lane) in order.enumerated() {
            guard let position = lanes[lane]!.firstIndex(where: { matches($0.element) }) else { continue }
            let entry = lanes[lane]!.remove(at: position)
            count -= 1
            if lanes[lane]!.isEmpty { dropLane(at: index) }
            if count == 0 { earliestDeadline = nil }
            return entry.element
        }
        return nil
    }

    /// Removes and returns the entries whose deadline is not after `now`, oldest lane first.
    mutating func removeExpired(now: ContinuousClock.Instant) -> [Entry] {
        guard let earliest = earliestDeadline, earliest <= now else { return [] }
        var expired: [Entry] = []
        var next: ContinuousClock.Instant?
        for lane in order {
            var kept = Deque<Entry>()
            for entry in lanes[lane]! {
                if entry.deadline <= now {
                    expired.append(entry)
                } else {
                    kept.append(entry)
                    if next.map({ entry.deadline < $0 }) ?? true { next = entry.deadline }
                }
            }
            lanes[lane] = kept
        }
        for index in order.indices.reversed() where lanes[order[index]]!.isEmpty { dropLane(at: index) }
        count -= expired.count
        earliestDeadline = next
        return expired
    }

    /// Removes and returns every entry.
    mutating func removeAll() -> [Element] {
        let all = order.flatMap { lanes[$0]!.map(\.element) }
        self = TransferQueue()
        return all
    }

    private mutating func dropLane(at index: Int) {
        lanes[order[index]] = nil
        order.remove(at: index)
        if index < turn { turn -= 1 }
        if turn >= order.count { turn = 0 }
    }
}
