import Foundation

/// The figures of one chaos run, as the checker found them in the database and the recordings, and the table
/// that `make chaos` prints and writes to `artifacts/chaos-report.txt`.
struct ChaosReport: Sendable {
    // The run.
    var seconds = 0
    var seed: UInt64 = 0
    var nodesAtATime = 0
    var nodesStarted = 0
    var faults: [ChaosMonkey.Event.Kind: Int] = [:]
    /// Each fault with its time from the start of the fault phase.
    var faultLog: [String] = []

    // Transactions and attempts.
    var transactionsCommitted = 0
    var transactionsRolledBack = 0
    /// Of the rolled-back ones, those cut off by a restart rather than rolled back by the producer.
    var transactionsCutOff = 0
    var attemptsCommitted = 0
    /// Committed attempts the target was called for at least once.
    var executed = 0
    var calls = 0
    var callsAnswered2xx = 0
    /// Terminal outcomes recorded (pending → succeeded or failed), and the final statuses.
    var recordedOutcomes = 0
    var succeeded = 0
    var failed = 0
    var retriesRecorded = 0

    // What must be zero.
    /// Committed attempts without a final outcome, committed orders without their attempt, and successes the
    /// target never answered 2xx.
    var lost = 0
    /// Attempts with more than one terminal outcome, or one try (attempt number) with more than one outcome.
    var doubleOutcomes = 0
    /// Outcomes the target's recorded answer contradicts (a success without a 2xx, an error after a 2xx that
    /// was not a timeout).
    var contradictedOutcomes = 0
    /// Calls for orders whose transaction rolled back, or for attempt ids the database never committed.
    var executedForRolledBack = 0
    /// Rolled-back orders whose order or attempt row exists anyway.
    var rowsOfRolledBack = 0

    // Duplicate deliveries (an attempt the target answered 2xx more than once) and why.
    var duplicateDeliveries = 0
    var duplicatesAfterKill = 0
    var duplicatesAfterStop = 0
    var duplicatesAfterRestart = 0
    var duplicatesAfterTimeout = 0
    var duplicatesUnexplained = 0

    // Leases.
    /// Leases the killed nodes held at their kill (each must be lost, not kept).
    var leasesHeldAtKills = 0
    var claimsPerNode: [(node: String, claims: Int)] = []
    var leaseLosses = 0
    var leaseLossesHolderKilled = 0
    var leaseLossesHolderStopped = 0
    var leaseLossesAfterRestart = 0
    /// Leases lost by a node that was running and not stopped: released by the reaper, or lapsed away from any
    /// database outage.
    var leaseLossesUnexplained = 0
    var fencedRejectsCounted = 0
    var fencedRejectsLogged = 0

    // The webhook.
    /// Error and failure outcomes recorded for OrderClient attempts (each must have made one event).
    var errorOutcomes = 0
    /// Event rows the database holds, and those that do not match an error outcome one to one.
    var webhookEventsExpected = 0
    var eventsWithoutOutcome = 0
    var webhookEventsDelivered = 0
    var webhookMissing = 0
    var webhookUnexpected = 0
    var webhookRedeliveries = 0

    /// Attempts (of any target, webhook events included) still pending when the checker ran.
    var pendingAtEnd = 0

    /// Everything that breaks a promise, by name; empty when the run passed.
    var violations: [String] {
        var problems: [String] = []
        if lost != 0 { problems.append("lost \(lost)") }
        if doubleOutcomes != 0 { problems.append("double outcomes \(doubleOutcomes)") }
        if contradictedOutcomes != 0 { problems.append("outcomes contradicting the target \(contradictedOutcomes)") }
        if executedForRolledBack != 0 { problems.append("executed for rolled-back transactions \(executedForRolledBack)") }
        if rowsOfRolledBack != 0 { problems.append("rows kept for rolled-back transactions \(rowsOfRolledBack)") }
        if duplicatesUnexplained != 0 { problems.append("unexplained duplicate deliveries \(duplicatesUnexplained)") }
        if recordedOutcomes != attemptsCommitted {
            problems.append("recorded outcomes \(recordedOutcomes) ≠ attempts committed \(attemptsCommitted)")
        }
        if webhookEventsExpected != errorOutcomes || eventsWithoutOutcome != 0 {
            problems.append("webhook events \(webhookEventsExpected) ≠ error outcomes \(errorOutcomes) (\(eventsWithoutOutcome) unmatched)")
        }
        if webhookMissing != 0 || webhookUnexpected != 0 || webhookEventsDelivered != webhookEventsExpected {
            problems.append(
                "webhook events expected \(webhookEventsExpected), delivered \(webhookEventsDelivered) (missing \(webhookMissing), unexpected \(webhookUnexpected))"
            )
        }
        if leasesHeldAtKills != leaseLossesHolderKilled {
            problems.append("leases held at kills \(leasesHeldAtKills) ≠ lost \(leaseLossesHolderKilled)")
        }
        if leaseLossesUnexplained != 0 { problems.append("leases lost by running nodes \(leaseLossesUnexplained)") }
        if pendingAtEnd != 0 { problems.append("pending at the end \(pendingAtEnd)") }
        return problems
    }

    /// The table.
    var table: String {
        var lines: [String] = []
        let faultList = ChaosMonkey.Event.Kind.allCases.map { "\($0.rawValue) ×\(faults[$0] ?? 0)" }.joined(separator: ", ")
        lines.append(
            "AsyncTask chaos run: \(seconds) s of faults, seed \(seed), \(nodesAtATime) worker nodes at a time (\(nodesStarted) started in all)")
        lines.append("faults: \(faultList)")
        lines.append("")
        func row(_ label: String, _ value: String, _ rule: String = "") {
            let padded = label.padding(toLength: 56, withPad: " ", startingAt: 0)
            let number = String(repeating: " ", count: max(0, 14 - value.count)) + value
            let line = "\(padded)\(number)   \(rule)"
            lines.append(String(line.reversed().drop { $0 == " " }.reversed()))
        }
        row("check", "value", "rule")
        lines.append(String(repeating: "-", count: 56) + String(repeating: "-", count: 14) + "   " + String(repeating: "-", count: 30))
        row("order transactions committed", "\(transactionsCommitted)")
        row("order transactions rolled back (cut off by a restart)", "\(transactionsRolledBack) (\(transactionsCutOff))")
        row("attempts committed", "\(attemptsCommitted)", "= transactions committed")
        row("executed (committed attempts the target was called for)", "\(executed)")
        row("  calls to the target / answered 2xx", "\(calls) / \(callsAnswered2xx)")
        row("recorded outcomes", "\(recordedOutcomes)", "= attempts committed")
        row("  succeeded / failed", "\(succeeded) / \(failed)")
        row("  retries recorded (503s, timeouts, 404s' tries)", "\(retriesRecorded)")
        row("lost", "\(lost)", "must be 0")
        row("double outcomes", "\(doubleOutcomes)", "must be 0")
        row("outcomes contradicting the target's record", "\(contradictedOutcomes)", "must be 0")
        row("executed for rolled-back transactions", "\(executedForRolledBack)", "must be 0")
        row("rows kept for rolled-back transactions", "\(rowsOfRolledBack)", "must be 0")
        row("duplicate deliveries to the target (2xx twice)", "\(duplicateDeliveries)", "each explained")
        row("  after kill -9 of the caller", "\(duplicatesAfterKill)")
        row("  after lease loss: caller SIGSTOPped", "\(duplicatesAfterStop)")
        row("  after lease loss: lapsed while PostgreSQL was down", "\(duplicatesAfterRestart)")
        row("  after a timeout (2xx came too late)", "\(duplicatesAfterTimeout)")
        row("  unexplained", "\(duplicatesUnexplained)", "must be 0")
        row("leases the killed nodes held when killed", "\(leasesHeldAtKills)", "= losses with the holder killed")
        row("lease losses (released or re-claimed)", "\(leaseLosses)")
        row(
            "  holder killed / stopped / lapsed while PostgreSQL down",
            "\(leaseLossesHolderKilled) / \(leaseLossesHolderStopped) / \(leaseLossesAfterRestart)")
        row("  holder running (reaped while alive, or no fault)", "\(leaseLossesUnexplained)", "must be 0")
        row("fenced writes rejected (node counters / log lines)", "\(fencedRejectsCounted) / \(fencedRejectsLogged)")
        row("error outcomes recorded (each makes an event)", "\(errorOutcomes)")
        row("webhook events expected / delivered", "\(webhookEventsExpected) / \(webhookEventsDelivered)", "must match, by event id")
        row("  missing / unexpected / unmatched to an outcome", "\(webhookMissing) / \(webhookUnexpected) / \(eventsWithoutOutcome)", "must be 0")
        row("  redeliveries (same event id again)", "\(webhookRedeliveries)")
        row("attempts pending at the end (events included)", "\(pendingAtEnd)", "must be 0")
        lines.append("")
        lines.append("claims per node: " + claimsPerNode.map { "\($0.node) \($0.claims)" }.joined(separator: ", "))
        lines.append(violations.isEmpty ? "result: PASS" : "result: FAIL: " + violations.joined(separator: "; "))
        return lines.joined(separator: "\n") + "\n"
    }
}
