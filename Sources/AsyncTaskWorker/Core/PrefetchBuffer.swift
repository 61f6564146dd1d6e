/// What a node holds of the attempts it claimed, and the decisions about them (pure: no I/O, no locks; the
/// `CapacityTracker` wraps it in a lock):
///
/// - calls in flight, in total and per target, never more than `node.concurrency` or a target's `concurrency`;
/// - the prefetch buffer: attempts claimed ahead of free slots, per target in claim order, so a slot that frees
///   starts its next call at once instead of waiting for a claim round trip;
/// - the room reserved by claims under way, so several claim loops never claim past a bound together.
///
/// Refill decision, per target: the attempts claimed and not yet started (buffered or being claimed) beyond the
/// target's free slots are its *surplus*; a target is claimed for when its surplus has fallen to half its depth
/// (the target's own, from its sizing), up to the full depth. With depth 0 (prefetching
/// off) a target is claimed for only when it has free slots nothing is claimed for, as before the buffer.
/// Targets whose last claim came back short (nothing more due) are *quiet* and skipped until new work is
/// announced (NOTIFY) or the poll interval passes.
///
/// Targets an operator paused (`async_task_targets.paused`, read each heartbeat) have no free slot: nothing of
/// theirs is reserved or started, and `pause` hands their buffered attempts back for release.
struct PrefetchBuffer {
    /// A first-in-first-out queue of claimed attempts that takes from its head in O(1).
    private struct Queue {
        private var items: [ClaimedAttempt] = []
        private var head = 0
        var count: Int { items.count - head }
        mutating func append(_ attempt: ClaimedAttempt) { items.append(attempt) }
        mutating func popFirst() -> ClaimedAttempt? {
            guard head < items.count else { return nil }
            let first = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return first
        }
        mutating func removeAll() -> [ClaimedAttempt] {
            defer {
                items = []
                head = 0
            }
            return Array(items[head...])
        }
    }

    let nodeLimit: Int
    let targetLimits: [String: Int]
    /// The targets in the order reservations and starts visit them (sorted once).
    private let targets: [String]

    private(set) var inFlight = 0
    private(set) var inFlightPerTarget: [String: Int] = [:]
    private(set) var peak = 0
    /// Calls that ended since start, per target (the sizing's rates come from it).
    private(set) var completed: [String: Int] = [:]
    /// Attempts in the buffer.
    private(set) var buffered = 0
    private var queues: [String: Queue] = [:]
    private var reservedTotal = 0
    private var reservedPerTarget: [String: Int] = [:]
    /// The part of `reservedTotal` that outcome flushes reserved for handovers.
    private var reservedForHandovers = 0
    private var quiet: Set<String> = []
    /// Targets paused by an operator: nothing of theirs starts or is claimed for.
    private(set) var paused: Set<String> = []
    /// Targets with a `global_concurrency`: once outcomes are written (their leases no longer count against it)
    /// they are claimed for again even when their last claim came back short.
    private(set) var globallyCapped: Set<String> = []
    /// Counts `wake()`s: a claim that came back short turns its targets quiet only if no wake came after it was
    /// reserved (a NOTIFY during the claim may announce rows the claim could not see).
    private var wakes = 0
    /// Once true (the node drains) nothing more starts from the buffer and nothing is reserved.
    private(set) var isClosed = false
    /// Where the next search for a startable attempt of another target begins (so no target is always last).
    private var nextTarget = 0

    init(nodeLimit: Int, targetLimits: [String: Int]) {
        self.nodeLimit = nodeLimit
        self.targetLimits = targetLimits
        self.targets = targetLimits.keys.sorted()
    }

    /// Attempts of `target` in the buffer.
    func buffered(target: String) -> Int { queues[target]?.count ?? 0 }

    private func free(_ target: String) -> Int {
        guard !paused.contains(target) else { return 0 }
        return max(0, min(nodeLimit - inFlight, (targetLimits[target] ?? 0) - (inFlightPerTarget[target] ?? 0)))
    }

    private func surplus(_ target: String) -> Int {
        buffered(target: target) + (reservedPerTarget[target] ?? 0) - free(target)
    }

    /// Whether `target` is due a refill at its depth `depth`.
    func wantsRefill(_ target: String, depth: Int) -> Bool {
        let surplus = surplus(target)
        return depth == 0 ? surplus < 0 : surplus <= depth / 2
    }

    /// `reserve(batch:depths:nodeDepth:)` with one depth for every target and the node.
    mutating func reserve(batch: Int, depth: Int) -> ClaimPlan {
        reserve(batch: batch, depths: { _ in depth }, nodeDepth: depth)
    }

    /// Reserves room for the next claim: for each target that wants a refill and is not quiet, up to its depth
    /// beyond its free slots; in all at most `batch` and what the node's bound (`node.concurrency` +
    /// `nodeDepth`) leaves. Empty when no claim is due. Hand the result back to `commit`.
    mutating func reserve(batch: Int, depths: (String) -> Int, nodeDepth: Int) -> ClaimPlan {
        guard !isClosed else { return .nothing }
        let nodeRoom = min(batch, nodeLimit + nodeDepth - inFlight - buffered - reservedTotal)
        guard nodeRoom > 0 else { return .nothing }
        var caps: [(target: String, limit: Int)] = []
        for target in targets where !quiet.contains(target) && !paused.contains(target) {
            let depth = depths(target)
            guard wantsRefill(target, depth: depth) else { continue }
            let room = min(nodeRoom, depth - surplus(target))
            guard room > 0 else { continue }
            caps.append((target, room))
            reservedPerTarget[target, default: 0] += room
        }
        let total = min(nodeRoom, caps.reduce(0) { $0 + $1.limit })
        reservedTotal += total
        return .init(caps: caps, total: total, wakes: wakes)
    }

    /// Ends a reservation: the claimed attempts join the buffer, targets that came back short turn quiet, and
    /// the attempts that can start now are returned (counted in flight). After `close()` nothing starts: the
    /// attempts are returned by `closedClaims` instead, for release.
    mutating func commit(_ reservation: ClaimPlan, claimed attempts: [ClaimedAttempt]) -> [ClaimedAttempt] {
        settle(reservation, attempts, fromHandover: false)
    }

    /// Ends a claim's or a handover's reservation (`fromHandover`): only a claim's short answer tells which
    /// targets have nothing more due.
    private mutating func settle(_ reservation: ClaimPlan, _ attempts: [ClaimedAttempt], fromHandover: Bool) -> [ClaimedAttempt] {
        for cap in reservation.caps { reservedPerTarget[cap.target, default: 0] -= cap.limit }
        reservedTotal -= reservation.total
        if fromHandover { reservedForHandovers -= reservation.total }
        var perTarget: [String: Int] = [:]
        for attempt in attempts {
            perTarget[attempt.target, default: 0] += 1
            queues[attempt.target, default: Queue()].append(attempt)
        }
        buffered += attempts.count
        // A target given less than its cap had nothing more due; one given exactly its cap may have more. When
        // the node's total cut the caps short, no target can be judged.
        if !fromHandover, attempts.count < reservation.total, reservation.wakes == wakes {
            for cap in reservation.caps where (perTarget[cap.target] ?? 0) < cap.limit { quiet.insert(cap.target) }
        }
        return isClosed ? [] : startable()
    }

    /// Reserves room for attempts an outcome flush may lease to this node: the next attempt of each ordering key
    /// its outcomes pass on (`wanted`: how many keys of each target may pass on). A handover replaces a promotion
    /// and a claim of the same row, so it is not held to a target's depth: with prefetching on (`nodeDepth` > 0)
    /// it may take whatever of the node's bound (`node.concurrency` + `nodeDepth`) calls, buffered attempts and
    /// other handovers leave, the room claims under way reserved included (so the node may briefly hold one
    /// claim batch more); with prefetching off, only a target's free slots. Nothing for a paused target, nothing
    /// once closed. Hand the result back to `commitHandover`.
    mutating func reserveHandover(_ wanted: [String: Int], nodeDepth: Int) -> ClaimPlan {
        guard !isClosed else { return .nothing }
        var nodeRoom = nodeLimit + nodeDepth - inFlight - buffered - reservedForHandovers
        var caps: [(target: String, limit: Int)] = []
        for target in targets where nodeRoom > 0 && !paused.contains(target) {
            guard let want = wanted[target], want > 0 else { continue }
            let room = min(want, nodeDepth > 0 ? nodeRoom : free(target) - buffered(target: target) - (reservedPerTarget[target] ?? 0))
            guard room > 0 else { continue }
            caps.append((target, room))
            reservedPerTarget[target, default: 0] += room
            nodeRoom -= room
        }
        let total = caps.reduce(0) { $0 + $1.limit }
        reservedTotal += total
        reservedForHandovers += total
        return .init(caps: caps, total: total)
    }

    /// Ends a handover reservation: the attempts the flush leased join the buffer, and those that can start now
    /// are returned (counted in flight). Unlike a claim's, a short handover says nothing about what else is due,
    /// so no target turns quiet. After `close()` nothing starts (`closedClaims` returns them, for release).
    mutating func commitHandover(_ reservation: ClaimPlan, leased attempts: [ClaimedAttempt]) -> [ClaimedAttempt] {
        settle(reservation, attempts, fromHandover: true)
    }

    /// Takes every buffered attempt that fits the caps now and counts it in flight.
    mutating func startable() -> [ClaimedAttempt] {
        guard !isClosed else { return [] }
        var started: [ClaimedAttempt] = []
        for target in targets {
            while buffered(target: target) > 0, free(target) > 0, let attempt = take(target) { started.append(attempt) }
        }
        return started
    }

    /// Takes up to `limit` buffered attempts of `target` that fit its caps now and counts them in flight (a
    /// batch of one target could be taken this way).
    mutating func take(target: String, limit: Int) -> [ClaimedAttempt] {
        guard !isClosed else { return [] }
        var taken: [ClaimedAttempt] = []
        while taken.count < limit, free(target) > 0, let attempt = take(target) { taken.append(attempt) }
        return taken
    }

    private mutating func take(_ target: String) -> ClaimedAttempt? {
        guard let attempt = queues[target]?.popFirst() else { return nil }
        buffered -= 1
        inFlight += 1
        inFlightPerTarget[target, default: 0] += 1
        peak = max(peak, inFlight)
        return attempt
    }

    /// One call of `target` ended. Returns the attempt to start in its slot (the same target's next, else the
    /// next of another target the caps now let start), and whether a claim is now due for `target` at its
    /// depth `depth`.
    mutating func finish(target: String, depth: Int) -> (next: ClaimedAttempt?, refill: Bool) {
        inFlight -= 1
        inFlightPerTarget[target, default: 1] -= 1
        completed[target, default: 0] += 1
        let refill = !isClosed && !quiet.contains(target) && wantsRefill(target, depth: depth)
        guard !isClosed else { return (nil, false) }
        if !paused.contains(target), let next = take(target) { return (next, refill) }
        guard !targets.isEmpty else { return (nil, refill) }
        for offset in 0..<targets.count {
            let other = targets[(nextTarget + offset) % targets.count]
            if buffered(target: other) > 0, free(other) > 0, let next = take(other) {
                nextTarget = (nextTarget + offset + 1) % targets.count
                return (next, refill)
            }
        }
        return (nil, refill)
    }

    /// Sets the targets an operator has paused (all of them, as last read). Returns the buffered attempts of
    /// paused targets (claimed ahead, never started: release them so they keep their tries) and whether a target
    /// was resumed (a claim is due for it).
    mutating func pause(_ targets: Set<String>) -> (unstarted: [ClaimedAttempt], resumed: Bool) {
        let resumed = paused.subtracting(targets)
        paused = targets
        for target in resumed { quiet.remove(target) }
        var unstarted: [ClaimedAttempt] = []
        // Every time, not only when newly paused: a claim under way at the pause may have brought some in since.
        for target in targets { unstarted += queues[target]?.removeAll() ?? [] }
        buffered -= unstarted.count
        return (unstarted, !resumed.isEmpty)
    }

    /// New work may be due for every target (a NOTIFY, a reconnected listener, the poll interval passed).
    mutating func wake() {
        quiet.removeAll()
        wakes &+= 1
    }

    /// `targets` may be claimed for again (a limit that held them back has room now).
    mutating func wake(_ targets: some Sequence<String>) {
        for target in targets { quiet.remove(target) }
    }

    /// `targets` are held back by their cluster-wide limit: not claimed for until `wake(_:)` (or any wake).
    mutating func hold(_ targets: some Sequence<String>) {
        for target in targets { quiet.insert(target) }
    }

    /// Outcomes were written: the targets with a `global_concurrency` may have room again.
    mutating func wakeGloballyCapped() {
        for target in globallyCapped { quiet.remove(target) }
    }

    /// Sets the targets with a `global_concurrency` (all of them, as last read).
    mutating func setGloballyCapped(_ targets: Set<String>) {
        globallyCapped = targets
    }

    /// Stops starting from the buffer and reserving (the node drains); returns the buffered attempts, which
    /// never started, for release.
    mutating func close() -> [ClaimedAttempt] {
        isClosed = true
        var unstarted: [ClaimedAttempt] = []
        for target in targets { unstarted += queues[target]?.removeAll() ?? [] }
        for target in queues.keys where !targets.contains(target) { unstarted += queues[target]?.removeAll() ?? [] }
        buffered = 0
        return unstarted
    }

    /// After `close()`: attempts that a claim under way returned late; they never start (release them).
    mutating func closedClaims() -> [ClaimedAttempt] {
        guard isClosed else { return [] }
        return close()
    }
}
