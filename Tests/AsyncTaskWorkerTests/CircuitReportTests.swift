import AsyncTaskCore
import AsyncTaskTargets
import TestSupport
import Testing

@testable import AsyncTaskWorker

@Suite("What a flush tells a target's circuit")
struct CircuitReportTests {
    static func attempt(_ id: Int64, target: String = "T") -> ClaimedAttempt {
        ClaimedAttempt(
            id: id, target: target, methodName: "run", methodArgs: "{}", encryptor: nil, attemptNumber: 1, maxAttempts: nil, idempotenceToken: nil)
    }

    let decision = OutcomeDecision(maxAttempts: 3, backoff: Backoff(base: .seconds(1), max: .seconds(60)))
    let circuits = ["T": try! CircuitSettings(target: "T")]

    func outcome(_ id: Int64, _ result: CallOutcome, target: String = "T") -> AttemptOutcome {
        var random = SeededRandom(seed: 1)
        return decision.afterCall(result, of: Self.attempt(id, target: target), using: &random)
    }

    static let unavailable = CallOutcome.retryable(kind: .httpStatus, message: "503", httpStatus: 503, retryAfter: nil, excerpt: "")

    @Test("the call's result says how the target is: a success or a 4xx answered, a retryable failure is failing, a stop says nothing")
    func health() {
        #expect(outcome(1, .succeeded(status: 200, excerpt: "")).targetHealth == .answered)
        #expect(outcome(2, .permanent(kind: .httpStatus, message: "404", httpStatus: 404, excerpt: "")).targetHealth == .answered)
        #expect(outcome(3, .permanent(kind: .invalidRequest, message: "bad key", httpStatus: nil, excerpt: "")).targetHealth == nil)
        #expect(outcome(4, Self.unavailable).targetHealth == .failing)
        #expect(outcome(5, .retryable(kind: .cancelled, message: "", httpStatus: nil, retryAfter: nil, excerpt: "")).targetHealth == nil)
        #expect(OutcomeDecision.release(Self.attempt(6)).targetHealth == nil)
    }

    @Test("only failures after the flush's last success count; a flush without a success adds all of its failures")
    func trailingFailures() {
        let batch = [
            outcome(1, Self.unavailable), outcome(2, Self.unavailable), outcome(3, .succeeded(status: 200, excerpt: "")),
            outcome(4, Self.unavailable), outcome(5, Self.unavailable, target: "Other"),
        ]
        let reports = CircuitReport.reports(for: batch, accepted: [1, 2, 3, 4, 5], circuits: circuits)
        #expect(reports.count == 1, "targets without a circuit are left out")
        #expect(reports.first == CircuitReport(target: "T", trailingFailures: 1, sawSuccess: true, successes: 1, lastError: "http_status: 503"))
        let failing = CircuitReport.reports(for: [outcome(1, Self.unavailable), outcome(2, Self.unavailable)], accepted: [1, 2], circuits: circuits)
        #expect(failing == [CircuitReport(target: "T", trailingFailures: 2, sawSuccess: false, successes: 0, lastError: "http_status: 503")])
    }

    @Test("outcomes the lease fence refused do not count")
    func fencedOut() {
        let reports = CircuitReport.reports(for: [outcome(1, Self.unavailable), outcome(2, Self.unavailable)], accepted: [2], circuits: circuits)
        #expect(reports.first?.trailingFailures == 1)
        #expect(CircuitReport.reports(for: [outcome(1, Self.unavailable)], accepted: [], circuits: circuits).isEmpty)
    }

    @Test("bad circuit values are refused naming the key")
    func badSettings() {
        #expect(throws: TargetConfigurationError.self) { try CircuitSettings(failures: 0, target: "T") }
        do {
            _ = try CircuitSettings(probes: 0, target: "T")
            Issue.record("probes 0 accepted")
        } catch {
            #expect(error.field == "circuit.probes")
        }
    }
}
