import AsyncTaskTargets

/// What one flush of outcomes tells a target's circuit breaker (`targets.<name>.circuit`): the retryable
/// failures after the flush's last success, whether it held a success (the count of failures in a row starts
/// again), how many successes it held, and the last failure's message. Only calls count: a released lease, a row
/// that could not be opened or a refused method name say nothing about the target.
struct CircuitReport: Sendable, Equatable {
    /// The target reported on.
    let target: String
    /// Retryable failures after the last success of the flush (all of them when it held none).
    var trailingFailures = 0
    /// Whether the flush held a success.
    var sawSuccess = false
    /// Successes in the flush.
    var successes = 0
    /// The message of the last retryable failure.
    var lastError: String?

    /// The reports of `batch` (in the order the calls ended) for the targets of `circuits`, counting only the
    /// outcomes the lease fence let through (`accepted`); targets with nothing to say are left out.
    static func reports(for batch: [AttemptOutcome], accepted: Set<Int64>, circuits: [String: CircuitSettings]) -> [CircuitReport] {
        var reports: [String: CircuitReport] = [:]
        for outcome in batch where circuits[outcome.attempt.target] != nil && accepted.contains(outcome.attempt.id) {
            guard let health = outcome.targetHealth else { continue }
            var report = reports[outcome.attempt.target] ?? CircuitReport(target: outcome.attempt.target)
            switch health {
            case .answered:
                report.sawSuccess = true
                report.successes += 1
                report.trailingFailures = 0
            case .failing:
                report.trailingFailures += 1
                report.lastError = outcome.error
            }
            reports[outcome.attempt.target] = report
        }
        return reports.values.sorted { $0.target < $1.target }
    }
}

/// What a try says about its target's health, for the circuit breaker.
enum TargetHealth: Sendable, Equatable {
    /// The target answered: a success, or a permanent failure it answered with (a 4xx).
    case answered
    /// A retryable failure of the call: no connection, a timeout, a 5xx or 429.
    case failing
}

/// A change of a target's circuit that a flush's report made (`async_task_circuit_record`'s result).
enum CircuitTransition: String, Sendable {
    /// Failures in a row reached the threshold, or a probe failed: no calls until the cooldown passed.
    case opened
    /// Every probe succeeded: calls run again.
    case closed
}
