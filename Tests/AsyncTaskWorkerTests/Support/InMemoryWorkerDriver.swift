import AsyncTaskCore
import Synchronization

@testable import AsyncTaskWorker

/// A `WorkerDriver` over rows in memory, on a `ManualClock`: it claims, fences, renews and releases as the
/// PostgreSQL driver's statements do (the same rules: `LeaseRenewal`, `Disposition.stored`), so the node's loops
/// can be unit-tested without a database.
///
/// It lives in the test target, not the library: nothing in production may run on it, and the library then
/// carries no test double.
final class InMemoryWorkerDriver: WorkerDriver {
    /// One attempt row, as far as the worker sees it.
    struct Row: Sendable {
        let id: Int64
        let target: String
        let methodName: String
        let methodArgs: String
        var priority = 0
        var status = AttemptStatus.pending
        var numAttempts = 0
        var maxAttempts: Int?
        var availableAt: ContinuousClock.Instant
        var lockedByThisNode = false
        var lastErrorKind: AttemptErrorKind?
        /// The outcome of each recorded try (`succeeded`, `failed`, `retry`, `released`).
        var tries: [String] = []
        /// Its ordering key: it runs only once every earlier attempt of the key left `pending`.
        var orderingKey: String? = nil
        /// Waiting behind an earlier pending attempt of its key (PostgreSQL's `available_at = 'infinity'`): no
        /// claim sees it until the key passes on to it.
        var parked = false
        /// How the row was last leased: by a claim or handed over by an outcome flush.
        var leasedBy: LeasedBy? = nil
    }

    /// How a row was leased.
    enum LeasedBy: Sendable, Equatable {
        case claim
        case handover
    }

    /// The database is unreachable (`isUnreachable`).
    struct Unreachable: Error {}

    private struct State {
        var rows: [Int64: Row] = [:]
        var nextID: Int64 = 1
        var nodeStatus: NodeStatus?
        var unreachable = false
        var claims: [ClaimPlan] = []
        var paused: Set<String> = []
        var heartbeats = 0
        var renewals = 0
        var renewCalls = 0
        var reaps = 0
        var recordCalls = 0
        /// While set, `record` waits at it before writing (a slow flush).
        var recordGate: Gate?
    }

    private let state = Mutex(State())
    let clock: ManualClock
    /// `node.lease`: how long a claim holds a row.
    let lease: Duration

    init(clock: ManualClock, lease: Duration = .seconds(30)) {
        self.clock = clock
        self.lease = lease
    }

    // MARK: - Test controls and views

    /// Inserts a pending attempt due after `delay`; returns its id. A keyed one behind a pending attempt of its
    /// key is parked, as the insert trigger of schema v9 parks it.
    @discardableResult
    func enqueue(
        target: String, method: String = "run", args: String = "{}", maxAttempts: Int? = nil, after delay: Duration = .zero,
        orderingKey: String? = nil
    ) -> Int64 {
        let now = clock.now
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            var row = Row(id: id, target: target, methodName: method, methodArgs: args, maxAttempts: maxAttempts, availableAt: now + delay)
            row.orderingKey = orderingKey
            row.parked = orderingKey != nil && state.rows.values.contains { Self.holdsKey($0, of: row) }
            state.rows[id] = row
            return id
        }
    }

    /// Whether `earlier` keeps `row` from running: an earlier pending attempt of its target and key.
    private static func holdsKey(_ earlier: Row, of row: Row) -> Bool {
        row.orderingKey != nil && earlier.orderingKey == row.orderingKey && earlier.target == row.target && earlier.id < row.id
            && earlier.status == .pending
    }

    /// The row `id` now.
    func row(_ id: Int64) -> Row? { state.withLock { $0.rows[id] } }

    /// Every row now.
    var rows: [Row] { state.withLock { $0.rows.values.sorted { $0.id < $1.id } } }

    /// Pauses `targets` (and resumes every other), as `asynctask targets pause|resume` does in the table.
    func setPaused(_ targets: Set<String>) { state.withLock { $0.paused = targets } }

    /// The claims made so far, in order.
    var claims: [ClaimPlan] { state.withLock { $0.claims } }

    /// Heartbeats, lease renewals and reaps so far.
    var counts: (heartbeats: Int, renewals: Int, reaps: Int) { state.withLock { ($0.heartbeats, $0.renewals, $0.reaps) } }

    /// Calls of `record` so far (flushes begun).
    var recordCalls: Int { state.withLock { $0.recordCalls } }

    /// Makes every later `record` wait at `gate` before it writes (nil: write at once).
    func holdRecords(at gate: Gate?) { state.withLock { $0.recordGate = gate } }

    /// Calls of `renewLeases` so far (whether or not they renewed anything).
    var renewCalls: Int { state.withLock { $0.renewCalls } }

    /// Another node takes over row `id` (its lease lapsed and was claimed elsewhere): this node's late outcome
    /// must be fenced out.
    func reclaimElsewhere(_ id: Int64) {
        state.withLock { state in
            state.rows[id]?.numAttempts += 1
            state.rows[id]?.lockedByThisNode = false
        }
    }

    /// Makes every verb throw `Unreachable` (true) or work again (false).
    func setUnreachable(_ unreachable: Bool) { state.withLock { $0.unreachable = unreachable } }

    private func reachable<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            guard !state.unreachable else { throw Unreachable() }
            return try body(&state)
        }
    }

    // MARK: - WorkerDriver

    func register() async throws {
        try reachable { $0.nodeStatus = .active }
    }

    func claim(_ plan: ClaimPlan) async throws -> ClaimResult {
        let now = clock.now
        let lease = lease
        return try reachable { state in
            state.claims.append(plan)
            var picked: [Row] = []
            var throttled: [String: Duration] = [:]
            for cap in plan.caps where !state.paused.contains(cap.target) {
                let rows = state.rows.values
                let due =
                    rows
                    .filter { row in
                        row.status == .pending && !row.parked && row.availableAt <= now && row.target == cap.target
                            && !rows.contains { Self.holdsKey($0, of: row) }
                    }
                    .sorted { ($0.priority, $0.availableAt, $0.id) < ($1.priority, $1.availableAt, $1.id) }
                var limit = cap.limit
                // As the claim function: in flight means leased, and a limit that cuts the claim short says so.
                if let global = plan.limits[cap.target]?.globalConcurrency {
                    let held = state.rows.values.filter { $0.status == .pending && $0.lockedByThisNode && $0.target == cap.target }.count
                    limit = max(0, min(limit, global - held))
                    if limit < cap.limit, due.count > limit { throttled[cap.target] = .milliseconds(25) }
                }
                picked += due.prefix(limit)
            }
            picked.sort { ($0.priority, $0.availableAt, $0.id) < ($1.priority, $1.availableAt, $1.id) }
            let attempts = picked.prefix(plan.total).map { row in
                var row = row
                return Self.lease(&row, at: now + lease, by: .claim, in: &state)
            }
            return ClaimResult(attempts: attempts, throttled: throttled)
        }
    }

    /// Leases `row` to this node until `until`, as a claim (or a flush's handover) does.
    private static func lease(_ row: inout Row, at until: ContinuousClock.Instant, by how: LeasedBy, in state: inout State) -> ClaimedAttempt {
        row.numAttempts += 1
        row.lockedByThisNode = true
        row.availableAt = until
        row.leasedBy = how
        state.rows[row.id] = row
        return ClaimedAttempt(
            id: row.id, target: row.target, methodName: row.methodName, methodArgs: row.methodArgs, encryptor: nil,
            attemptNumber: row.numAttempts, maxAttempts: row.maxAttempts, idempotenceToken: nil, orderingKey: row.orderingKey)
    }

    private static func holds(_ row: Row?, _ attempt: ClaimedAttempt) -> Bool {
        guard let row else { return false }
        return row.lockedByThisNode && row.numAttempts == attempt.attemptNumber && row.status == .pending
    }

    func releaseUnstarted(_ attempts: [ClaimedAttempt]) async throws -> Int {
        let now = clock.now
        return try reachable { state in
            var released = 0
            for attempt in attempts where Self.holds(state.rows[attempt.id], attempt) {
                state.rows[attempt.id]?.lockedByThisNode = false
                state.rows[attempt.id]?.availableAt = now
                state.rows[attempt.id]?.numAttempts -= 1
                released += 1
            }
            return released
        }
    }

    func record(_ outcomes: [AttemptOutcome], handover: ClaimPlan) async throws -> RecordResult {
        let gate = state.withLock { state in
            state.recordCalls += 1
            return state.recordGate
        }
        await gate?.wait()
        let now = clock.now
        let lease = lease
        return try reachable { state in
            var accepted = Set<Int64>()
            var passed: [Row] = []
            for outcome in outcomes where Self.holds(state.rows[outcome.attempt.id], outcome.attempt) {
                guard var row = state.rows[outcome.attempt.id] else { continue }
                let stored = outcome.disposition.stored
                row.status = stored.status
                if let delay = stored.delayMilliseconds { row.availableAt = now + .milliseconds(delay) }
                row.lockedByThisNode = false
                if outcome.error != nil { row.lastErrorKind = outcome.errorKind }
                row.tries.append(
                    stored.status != .pending ? stored.status.rawValue : outcome.error == nil ? "released" : "retry")
                state.rows[row.id] = row
                accepted.insert(row.id)
                if row.orderingKey != nil, row.status != .pending { passed.append(row) }
            }
            // As the flush statement: each key passed on has its next (parked) attempt handed over to this node
            // within the plan's room per target, or else promoted.
            var room = Dictionary(handover.caps.map { ($0.target, $0.limit) }, uniquingKeysWith: +)
            var handedOver: [ClaimedAttempt] = []
            for done in passed {
                let rows = state.rows.values
                guard
                    var next = rows.filter({ $0.target == done.target && $0.orderingKey == done.orderingKey && $0.status == .pending })
                        .min(by: { $0.id < $1.id }), next.parked
                else { continue }
                next.parked = false
                if next.availableAt <= now, let left = room[next.target], left > 0, !state.paused.contains(next.target) {
                    room[next.target] = left - 1
                    handedOver.append(Self.lease(&next, at: now + lease, by: .handover, in: &state))
                } else {
                    state.rows[next.id] = next
                }
            }
            return RecordResult(accepted: accepted, handedOver: handedOver)
        }
    }

    func renewLeases(_ leases: [HeldLeases.Lease], by renewal: LeaseRenewal) async throws -> Int {
        let now = clock.now
        return try reachable { state in
            state.renewCalls += 1
            var renewed = 0
            for lease in leases {
                guard let row = state.rows[lease.id], row.lockedByThisNode, row.numAttempts == lease.attemptNumber, row.status == .pending,
                    renewal.isDue(lapsesAt: row.availableAt, now: now)
                else { continue }
                state.rows[lease.id]?.availableAt = renewal.renewed(at: now)
                renewed += 1
            }
            state.renewals += renewed
            return renewed
        }
    }

    func heartbeat(inFlight: Int, counters: [String: Int], status: NodeStatus) async throws -> NodeStatus? {
        try reachable { state in
            state.heartbeats += 1
            let previous = state.nodeStatus
            if previous == .dead || previous == .stopped { state.nodeStatus = status }
            return previous
        }
    }

    func reapDeadNodes() async throws -> (nodes: [String], released: Int) {
        try reachable { state in
            state.reaps += 1
            return ([], 0)
        }
    }

    func releaseLeases() async throws -> Int {
        let now = clock.now
        return try reachable { state in
            var released = 0
            for (id, row) in state.rows where row.lockedByThisNode && row.status == .pending {
                state.rows[id]?.lockedByThisNode = false
                state.rows[id]?.availableAt = now
                released += 1
            }
            return released
        }
    }

    func setStatus(_ status: NodeStatus) async throws {
        try reachable { $0.nodeStatus = status }
    }

    func unservedTargets() async throws -> [String: Int] { try reachable { _ in [:] } }

    func promoteStrandedParked(after: Int64, limit: Int) async throws -> ParkedSweep { try reachable { _ in ParkedSweep(lastID: nil, promoted: 0) } }

    func targetControls() async throws -> TargetControlState { try reachable { TargetControlState(paused: $0.paused) } }

    func isUnreachable(_ error: any Error) -> Bool { error is Unreachable }

    func isRefusal(_ error: any Error) -> Bool { false }
}
