import AsyncTaskCore
import AsyncTaskTargets
import TestSupport
import Testing

@testable import AsyncTaskWorker

@Suite("What a try's result turns into")
struct OutcomeDecisionTests {
    static func attempt(number: Int, maxAttempts: Int? = nil) -> ClaimedAttempt {
        ClaimedAttempt(
            id: 7, target: "T", methodName: "run", methodArgs: "{}", encryptor: nil, attemptNumber: number, maxAttempts: maxAttempts,
            idempotenceToken: nil)
    }

    let decision = OutcomeDecision(maxAttempts: 3, backoff: Backoff(base: .seconds(1), max: .seconds(60)))

    @Test("a success is recorded succeeded with its HTTP status and no error")
    func success() {
        var random = SeededRandom(seed: 1)
        let outcome = decision.afterCall(.succeeded(status: 201, excerpt: "ok"), of: Self.attempt(number: 1), using: &random)
        #expect(outcome.disposition == .succeeded)
        #expect(outcome.httpStatus == 201)
        #expect(outcome.error == nil && outcome.errorKind == nil)
    }

    @Test("a retryable failure with tries left is retried after a delay within the backoff's ceiling for its try number")
    func retryWithinCeiling() {
        var random = SeededRandom(seed: 42)
        for number in 1...2 {
            let outcome = decision.afterCall(
                .retryable(kind: .timeout, message: "slow", httpStatus: nil, retryAfter: nil, excerpt: ""), of: Self.attempt(number: number),
                using: &random)
            guard case .retry(let delay) = outcome.disposition else {
                Issue.record("expected a retry, got \(outcome.disposition)")
                continue
            }
            #expect(delay >= .zero && delay <= decision.backoff.ceiling(afterAttempt: number))
            #expect(outcome.errorKind == .timeout)
            #expect(outcome.error == "timeout: slow")
        }
    }

    @Test("the same seed draws the same retry delay: the jitter comes only from the generator passed in")
    func jitterFromGenerator() {
        let failure = CallOutcome.retryable(kind: .connect, message: "refused", httpStatus: nil, retryAfter: nil, excerpt: "")
        var first = SeededRandom(seed: 9)
        var second = SeededRandom(seed: 9)
        #expect(
            decision.afterCall(failure, of: Self.attempt(number: 2), using: &first).disposition
                == decision.afterCall(failure, of: Self.attempt(number: 2), using: &second).disposition)
    }

    @Test("a target's Retry-After longer than the backoff sets the delay")
    func retryAfterWins() {
        var random = SeededRandom(seed: 3)
        let outcome = decision.afterCall(
            .retryable(kind: .httpStatus, message: "503", httpStatus: 503, retryAfter: .seconds(600), excerpt: "busy"),
            of: Self.attempt(number: 1), using: &random)
        #expect(outcome.disposition == .retry(after: .seconds(600)))
        #expect(outcome.httpStatus == 503)
        #expect(outcome.excerpt == "busy")
    }

    @Test("a retryable failure on the last try fails, saying the tries are exhausted")
    func lastTryFails() {
        var random = SeededRandom(seed: 5)
        let outcome = decision.afterCall(
            .retryable(kind: .connect, message: "refused", httpStatus: nil, retryAfter: nil, excerpt: ""), of: Self.attempt(number: 3),
            using: &random)
        #expect(outcome.disposition == .failed)
        #expect(outcome.errorKind == .connect)
        #expect(outcome.error == "connect: tries exhausted (3): refused")
    }

    @Test(
        "a call cut short by cancellation or the node's shutdown gives its lease back, with no error recorded",
        arguments: [
            AttemptErrorKind.cancelled, .shutdown,
        ])
    func cutShortReleases(kind: AttemptErrorKind) {
        var random = SeededRandom(seed: 5)
        let outcome = decision.afterCall(
            .retryable(kind: kind, message: "stopping", httpStatus: nil, retryAfter: nil, excerpt: ""), of: Self.attempt(number: 3),
            using: &random)
        #expect(outcome.disposition == .release)
        #expect(outcome.error == nil)
    }

    @Test("a permanent failure fails at once, even with tries left")
    func permanentFails() {
        var random = SeededRandom(seed: 5)
        let outcome = decision.afterCall(
            .permanent(kind: .httpStatus, message: "404 Not Found", httpStatus: 404, excerpt: "nope"), of: Self.attempt(number: 1),
            using: &random)
        #expect(outcome.disposition == .failed)
        #expect(outcome.error == "http_status: 404 Not Found")
        #expect(outcome.httpStatus == 404)
    }

    @Test("an attempt claimed more often than max_attempts fails without a call; one within it is called")
    func overClaimedFailsBeforeCall() {
        let over = decision.beforeCall(Self.attempt(number: 4))
        #expect(over?.disposition == .failed)
        #expect(over?.errorKind == .triesExhausted)
        #expect(decision.beforeCall(Self.attempt(number: 3)) == nil)
    }

    @Test("each disposition is stored as its status and, for a pending row, the delay until it is due")
    func storedStatus() {
        #expect(AttemptOutcome.Disposition.succeeded.stored == (.succeeded, nil))
        #expect(AttemptOutcome.Disposition.failed.stored == (.failed, nil))
        #expect(AttemptOutcome.Disposition.retry(after: .milliseconds(1500)).stored == (.pending, 1500))
        #expect(AttemptOutcome.Disposition.release.stored == (.pending, 0))
    }

    @Test("max_retry_duration: a retryable failure of an attempt first tried longer ago fails with tries left; younger ones retry")
    func retryDeadline() {
        var random = SeededRandom(seed: 5)
        let deadline = OutcomeDecision(maxAttempts: 100, backoff: Backoff(base: .seconds(1), max: .seconds(60)), maxRetryDuration: .seconds(3600))
        let failure = CallOutcome.retryable(kind: .httpStatus, message: "503", httpStatus: 503, retryAfter: nil, excerpt: "down")
        var young = Self.attempt(number: 2)
        young.triedFor = .seconds(3599)
        guard case .retry = deadline.afterCall(failure, of: young, using: &random).disposition else {
            Issue.record("an attempt inside its retry duration must retry")
            return
        }
        var old = Self.attempt(number: 2)
        old.triedFor = .seconds(3600)
        let outcome = deadline.afterCall(failure, of: old, using: &random)
        #expect(outcome.disposition == .failed)
        #expect(outcome.errorKind == .httpStatus && outcome.httpStatus == 503)
        #expect(outcome.error?.contains("max_retry_duration 1h passed") == true, "\(outcome.error ?? "")")
        // A permanent failure and a success are unchanged by the deadline; without one, only max_attempts counts.
        #expect(deadline.afterCall(.succeeded(status: 200, excerpt: ""), of: old, using: &random).disposition == .succeeded)
        guard case .retry = decision.afterCall(failure, of: old, using: &random).disposition else {
            Issue.record("without max_retry_duration an old attempt with tries left retries")
            return
        }
    }
}
