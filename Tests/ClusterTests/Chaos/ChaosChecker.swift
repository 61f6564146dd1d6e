import Foundation
import PostgresClient
import TestSupport

/// Reads what a chaos run left behind (the database, the target's and the webhook receiver's recordings, the
/// nodes' logs, the fault log) and works out a `ChaosReport`.
///
/// The database side of the proof is a transition log: `install(on:)` adds, to the run's own database only, a
/// trigger that writes one row per claim, outcome and lease release of every attempt (who held the lease, the
/// attempt number, when). With it each call the target recorded has a claimant node, each try (attempt id,
/// attempt number) its outcomes, and each lost lease its time, which the fault log then explains.
///
/// Definitions (a "try" is one claim: attempt id and attempt number, the lease's fencing token):
/// - *lost*: a committed order without its attempt, a committed attempt still pending after the drain, or a
///   success the target never answered 2xx.
/// - *double outcome*: an attempt with more than one pending → succeeded/failed transition, or a try with more
///   than one outcome written (success, failure, or retry with an error).
/// - *executed for a rolled-back transaction*: a recorded call whose order number is not in the committed
///   orders table, or whose attempt id the database does not hold.
/// - *duplicate delivery*: each 2xx the target gave an attempt beyond the first. Each 2xx whose try has no
///   success recorded must be explained: the try's outcome is a timeout (the 2xx came after the caller gave
///   up), or the try has no outcome and its lease was lost (taken over after it lapsed, or released by the
///   reaper) because its holder was `kill -9`ed before the loss, was SIGSTOPped at the loss, or — a takeover
///   only — PostgreSQL was down within a lease before the loss. Anything else is unexplained.
/// - *lease loss of a running node*: a loss with none of those causes (a reaper release of a node that was
///   running, or a lapse away from any outage); must be 0.
struct ChaosChecker {
    /// The transition log and the orders table, installed after the migrations.
    static let observer = """
        CREATE TABLE chaos_transitions (
            seq           bigserial PRIMARY KEY,
            attempt_id    bigint NOT NULL,
            target        text NOT NULL,
            old_num       integer NOT NULL,
            new_num       integer NOT NULL,
            old_status    text NOT NULL,
            new_status    text NOT NULL,
            old_locked_by uuid,
            new_locked_by uuid,
            error_changed boolean NOT NULL,
            error_kind    text,
            at            timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE FUNCTION chaos_observe() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO chaos_transitions (attempt_id, target, old_num, new_num, old_status, new_status, old_locked_by, new_locked_by, error_changed, error_kind)
            VALUES (NEW.id, NEW.target, OLD.num_attempts, NEW.num_attempts, OLD.status, NEW.status, OLD.locked_by, NEW.locked_by,
                    NEW.last_error_at IS DISTINCT FROM OLD.last_error_at, NEW.last_error_kind);
            RETURN NULL;
        END $$;
        -- Lease renewals (available_at only) are left out.
        CREATE TRIGGER chaos_observe AFTER UPDATE ON async_task_attempts FOR EACH ROW
            WHEN (OLD.num_attempts IS DISTINCT FROM NEW.num_attempts OR OLD.status IS DISTINCT FROM NEW.status
                  OR OLD.locked_by IS DISTINCT FROM NEW.locked_by OR OLD.last_error_at IS DISTINCT FROM NEW.last_error_at)
            EXECUTE FUNCTION chaos_observe();
        """

    static let orders = PostgresStatement(name: "chaos_orders", sql: "SELECT number, attempt_id FROM chaos_orders")
    static let attempts = PostgresStatement(
        name: "chaos_attempts",
        sql: """
            SELECT id, status, num_attempts, coalesce((method_args ->> 'order_number')::bigint, -1) AS order_number
            FROM async_task_attempts WHERE target = 'OrderClient'
            """)
    static let transitions = PostgresStatement(
        name: "chaos_transitions",
        sql: """
            SELECT attempt_id, target, old_num, new_num, old_status, new_status, old_locked_by, new_locked_by, error_changed,
                   coalesce(error_kind, '') AS error_kind, extract(epoch FROM at)::float8 AS at
            FROM chaos_transitions ORDER BY seq
            """)
    static let events = PostgresStatement(
        name: "chaos_events",
        sql: """
            SELECT method_args ->> 'event_id' AS event_id, method_args ->> 'event' AS event,
                   (method_args -> 'attempt' ->> 'id')::bigint AS attempt_id, (method_args -> 'attempt' ->> 'num_attempts')::integer AS number
            FROM async_task_attempts WHERE target = '@webhook'
            """)
    static let pending = PostgresStatement(name: "chaos_pending", sql: "SELECT count(*) AS n FROM async_task_attempts WHERE status = 'pending'")
    static let counters = PostgresStatement(
        name: "chaos_counters", sql: "SELECT coalesce(sum((counters ->> 'fenced_rejects')::bigint), 0)::bigint AS n FROM async_task_nodes")

    /// One try of an attempt: the fencing token of one lease.
    struct Try: Hashable {
        let id: Int64
        let number: Int
    }

    /// A call the target recorded.
    struct Call {
        let attempt: Try
        let status: Int
        let at: Double
        let orderNumber: Int64?
    }

    let pool: PostgresConnectionPool
    let callsFile: URL
    let webhookFile: URL
    let nodes: [ChaosCluster.Node]
    let faults: [ChaosMonkey.Event]
    let produced: ChaosProducer.Result

    /// Reads everything and fills in the report (the run's own figures, like the seed, are the caller's).
    func check(into report: inout ChaosReport) async throws {
        // Orders and attempts.
        var orderAttempt: [Int64: Int64] = [:]
        for row in try await pool.query(Self.orders) { orderAttempt[try row.decode(Int64.self, "number")] = try row.decode(Int64.self, "attempt_id") }
        var status: [Int64: String] = [:]
        var orderOf: [Int64: Int64] = [:]
        for row in try await pool.query(Self.attempts) {
            let id = try row.decode(Int64.self, "id")
            status[id] = try row.decode(String.self, "status")
            orderOf[id] = try row.decode(Int64.self, "order_number")
        }
        let rolledBack = Set(produced.numbers).subtracting(orderAttempt.keys)
        report.transactionsCommitted = orderAttempt.count
        report.transactionsRolledBack = rolledBack.count
        report.transactionsCutOff = rolledBack.intersection(produced.inDoubt).count
        report.attemptsCommitted = status.count
        report.rowsOfRolledBack =
            produced.rolledBack.intersection(orderAttempt.keys).count
            + orderOf.values.filter { rolledBack.contains($0) }.count
        report.succeeded = status.values.filter { $0 == "succeeded" }.count
        report.failed = status.values.filter { $0 == "failed" }.count

        // The target's recording.
        let calls = Self.jsonLines(callsFile).compactMap { object -> Call? in
            guard let id = (object["attempt_id"] as? NSNumber)?.int64Value, let number = (object["attempt_number"] as? NSNumber)?.intValue,
                let code = (object["status"] as? NSNumber)?.intValue, let at = (object["at"] as? NSNumber)?.doubleValue
            else { return nil }
            return Call(attempt: Try(id: id, number: number), status: code, at: at, orderNumber: (object["order_number"] as? NSNumber)?.int64Value)
        }
        let successfulCalls = calls.filter { (200..<300).contains($0.status) }
        report.calls = calls.count
        report.callsAnswered2xx = successfulCalls.count
        report.executed = Set(calls.map(\.attempt.id)).intersection(status.keys).count
        report.executedForRolledBack =
            calls.filter { call in
                status[call.attempt.id] == nil || call.orderNumber.map { rolledBack.contains($0) } == true
            }.count
        let answered2xx = Set(successfulCalls.map(\.attempt))

        // The transition log: claims, outcomes, lease losses, per try.
        var claimant: [Try: (node: String, at: Double)] = [:]
        var outcomes: [Try: [(terminal: Bool, status: String, errorKind: String, at: Double)]] = [:]
        // A lease is lost by a takeover (claimed again after it lapsed) or a release (the reaper declared its
        // holder dead).
        var losses: [(attempt: Try, node: String, at: Double, takeover: Bool)] = []
        var terminalCount: [Int64: Int] = [:]
        var errorOutcomes: [String] = []
        for row in try await pool.query(Self.transitions) {
            guard try row.decode(String.self, "target") == "OrderClient" else { continue }
            let id = try row.decode(Int64.self, "attempt_id")
            let oldNumber = try row.decode(Int.self, "old_num")
            let newNumber = try row.decode(Int.self, "new_num")
            let oldHolder = try row.decode(String?.self, "old_locked_by")
            let newHolder = try row.decode(String?.self, "new_locked_by")
            let oldStatus = try row.decode(String.self, "old_status")
            let newStatus = try row.decode(String.self, "new_status")
            let errorChanged = try row.decode(Bool.self, "error_changed")
            let at = try row.decode(Double.self, "at")
            if newNumber == oldNumber + 1, let newHolder {
                // A claim; taking over a lease someone still held means that lease was lost.
                claimant[Try(id: id, number: newNumber)] = (newHolder, at)
                if let oldHolder, oldStatus == "pending" { losses.append((Try(id: id, number: oldNumber), oldHolder, at, true)) }
            } else if newNumber == oldNumber, oldHolder != nil, newHolder == nil {
                let attempt = Try(id: id, number: oldNumber)
                if oldStatus != newStatus || errorChanged {
                    let terminal = newStatus != "pending"
                    outcomes[attempt, default: []].append((terminal, newStatus, try row.decode(String.self, "error_kind"), at))
                    if terminal { terminalCount[id, default: 0] += 1 }
                    if newStatus == "failed" { errorOutcomes.append("attempt.failed:\(id):\(oldNumber)") }
                    if newStatus == "pending" && errorChanged { errorOutcomes.append("attempt.error:\(id):\(oldNumber)") }
                } else if let oldHolder {
                    // Released without an outcome: reaped (holder declared dead) or given back.
                    losses.append((attempt, oldHolder, at, false))
                }
            }
        }
        report.recordedOutcomes = terminalCount.values.reduce(0, +)
        report.retriesRecorded = outcomes.values.joined().filter { !$0.terminal }.count
        report.doubleOutcomes = terminalCount.values.filter { $0 > 1 }.count + outcomes.values.filter { $0.count > 1 }.count

        // Lost: committed work without its final outcome, or a success the target never gave.
        let pendingCommitted = status.values.filter { $0 == "pending" }.count
        let ordersWithoutAttempt = orderAttempt.values.filter { status[$0] == nil }.count
        let answeredIDs = Set(answered2xx.map(\.id))
        let phantomSuccesses = status.filter { $0.value == "succeeded" && !answeredIDs.contains($0.key) }.count
        report.lost = pendingCommitted + ordersWithoutAttempt + phantomSuccesses

        // Each outcome against the target's own record of that try.
        for (attempt, recorded) in outcomes {
            for outcome in recorded {
                if outcome.status == "succeeded" {
                    if !answered2xx.contains(attempt) { report.contradictedOutcomes += 1 }
                } else if answered2xx.contains(attempt) && outcome.errorKind != "timeout" {
                    report.contradictedOutcomes += 1
                }
            }
        }

        // Faults by node and time.
        let killedAt = Dictionary(
            faults.filter { $0.kind == .kill }.compactMap { event in event.node.map { ($0.id, event.start) } }, uniquingKeysWith: min)
        let stops = faults.filter { $0.kind == .stop }
        let restarts = faults.filter { $0.kind == .postgresRestart }
        func stopped(_ node: String, at time: Double) -> Bool {
            stops.contains { $0.node?.id == node && $0.start - 0.2 <= time && time <= $0.end + 0.5 }
        }
        // A lease of a running node may lapse while PostgreSQL is down (no renewal gets through) and be claimed
        // again soon after it is back. The reaper must not release one: the node was only cut off.
        func lapsedInOutage(_ loss: (attempt: Try, node: String, at: Double, takeover: Bool)) -> Bool {
            let settle = Double(ChaosCluster.lease.components.seconds) + 2
            return loss.takeover && restarts.contains { $0.start - 0.2 <= loss.at && loss.at <= $0.end + settle }
        }
        enum Cause { case killed, stopped, restart, none }
        func cause(of loss: (attempt: Try, node: String, at: Double, takeover: Bool)) -> Cause {
            if let killed = killedAt[loss.node], killed <= loss.at { return .killed }
            if stopped(loss.node, at: loss.at) { return .stopped }
            if lapsedInOutage(loss) { return .restart }
            return .none
        }
        // Leases each killed node held when it died: its tries that never got an outcome (one in transit at the
        // kill may still be written) and were not lost before the kill (during an earlier stop). Times are
        // compared only where they cannot race the kill: a claim sent just before it may commit just after.
        for (node, killed) in killedAt {
            let held = claimant.filter { attempt, holder in
                holder.node == node && outcomes[attempt] == nil && !losses.contains { $0.attempt == attempt && $0.node == node && $0.at < killed }
            }
            report.leasesHeldAtKills += held.count
        }
        report.claimsPerNode = nodes.map { node in (node.name, claimant.values.filter { $0.node == node.id }.count) }
        report.leaseLosses = losses.count
        for loss in losses {
            switch cause(of: loss) {
            case .killed: report.leaseLossesHolderKilled += 1
            case .stopped: report.leaseLossesHolderStopped += 1
            case .restart: report.leaseLossesAfterRestart += 1
            case .none: report.leaseLossesUnexplained += 1
            }
        }

        // Duplicate deliveries: every 2xx beyond the first per attempt. Each 2xx whose try has no success
        // recorded needs a reason: its caller gave up on a slow answer (timeout), or its lease was lost for a
        // reason the fault log gives (killed, stopped, lapsed while PostgreSQL was down).
        let lossByTry = Dictionary(losses.map { ($0.attempt, $0) }, uniquingKeysWith: { first, _ in first })
        for (_, group) in Dictionary(grouping: successfulCalls, by: \.attempt.id) where group.count > 1 {
            report.duplicateDeliveries += group.count - 1
            var unrecorded = group.filter { call in !(outcomes[call.attempt] ?? []).contains { $0.status == "succeeded" } }
            // If none was recorded as a success (cannot be once every attempt has its outcome), one of them is
            // still the delivery, not a duplicate.
            if unrecorded.count == group.count { unrecorded.removeLast() }
            for call in unrecorded {
                if (outcomes[call.attempt] ?? []).contains(where: { $0.errorKind == "timeout" }) {
                    report.duplicatesAfterTimeout += 1
                } else if outcomes[call.attempt] == nil, let holder = claimant[call.attempt], let loss = lossByTry[call.attempt],
                    loss.node == holder.node
                {
                    // The caller's outcome never made it: its lease went, for the reason the lease loss has.
                    switch cause(of: loss) {
                    case .killed: report.duplicatesAfterKill += 1
                    case .stopped: report.duplicatesAfterStop += 1
                    case .restart: report.duplicatesAfterRestart += 1
                    case .none: report.duplicatesUnexplained += 1
                    }
                } else {
                    report.duplicatesUnexplained += 1
                }
            }
        }

        // Fenced writes: the nodes' counters (as of each node's last heartbeat) and their log lines.
        report.fencedRejectsCounted = try await pool.query(Self.counters).single().decode(Int.self, "n")
        report.fencedRejectsLogged = nodes.reduce(0) { total, node in
            total + node.process.stderr.components(separatedBy: "outcome rejected by the lease fence").count - 1
        }

        // The webhook: one event per error outcome, each delivered (by event id).
        var expected = Set<String>()
        var eventKeys: [String] = []
        for row in try await pool.query(Self.events) {
            expected.insert(try row.decode(String.self, "event_id"))
            eventKeys.append(
                "\(try row.decode(String.self, "event")):\(try row.decode(Int64.self, "attempt_id")):\(try row.decode(Int.self, "number"))")
        }
        report.errorOutcomes = errorOutcomes.count
        report.webhookEventsExpected = expected.count
        report.eventsWithoutOutcome = Self.multisetDifference(eventKeys, errorOutcomes) + Self.multisetDifference(errorOutcomes, eventKeys)
        let deliveries = Self.jsonLines(webhookFile).compactMap { $0["event_id"] as? String }.filter { !$0.isEmpty }
        let delivered = Set(deliveries)
        report.webhookEventsDelivered = delivered.count
        report.webhookMissing = expected.subtracting(delivered).count
        report.webhookUnexpected = delivered.subtracting(expected).count
        report.webhookRedeliveries = deliveries.count - delivered.count
        report.pendingAtEnd = try await pool.query(Self.pending).single().decode(Int.self, "n")
    }

    /// How many elements of `a` are left after removing one occurrence per element of `b`.
    static func multisetDifference(_ a: [String], _ b: [String]) -> Int {
        var counts = Dictionary(a.map { ($0, 1) }, uniquingKeysWith: +)
        for element in b { counts[element, default: 0] -= 1 }
        return counts.values.filter { $0 > 0 }.reduce(0, +)
    }

    /// The JSON objects of a JSON-lines file (missing file: none).
    static func jsonLines(_ file: URL) -> [[String: Any]] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
