import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Logging
import Testing

@testable import AsyncTaskWorker

/// The executor with a scripted caller: what reaches the target, and what never does.
@Suite("Attempt executor")
struct AttemptExecutorTests {
    static func executor(
        _ caller: ScriptedCaller, clock: ManualClock = ManualClock(), onFailure: OrderingFailurePolicy = .skip, staleClaimAge: Duration? = nil
    ) throws -> AttemptExecutor {
        AttemptExecutor(
            targets: ["T": try TargetConfiguration(name: "T", url: "http://127.0.0.1:1/t", maxAttempts: 4, orderingOnFailure: onFailure)],
            caller: caller,
            batches: BatchDispatcher { calls, _ in calls.map { _ in .succeeded(status: 200, excerpt: "") } }, encryptor: NullEncryptor(),
            webhook: nil, metrics: WorkerMetrics(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), clock: clock,
            staleClaimAge: staleClaimAge)
    }

    static func attempt(target: String = "T", number: Int = 1, encryptor: String? = nil, maxAttempts: Int? = nil) -> ClaimedAttempt {
        ClaimedAttempt(
            id: 1, target: target, methodName: "run", methodArgs: #"{"a":1}"#, encryptor: encryptor, attemptNumber: number,
            maxAttempts: maxAttempts, idempotenceToken: "tok")
    }

    @Test("the call carries the row's arguments, and the outcome the max_attempts in force and the try's duration")
    func stampsTheTry() async throws {
        let clock = ManualClock()
        let caller = ScriptedCaller { call, _ in
            clock.advance(by: .milliseconds(40))
            return call.arguments == Array(#"{"a":1}"#.utf8) && call.idempotencyKey == "tok"
                ? .succeeded(status: 200, excerpt: "") : .permanent(kind: .internal, message: "wrong call", httpStatus: nil, excerpt: "")
        }
        let outcome = try await Self.executor(caller, clock: clock).execute(Self.attempt())
        #expect(outcome.disposition == .succeeded)
        #expect(outcome.maxAttempts == 4)
        #expect(outcome.duration == .milliseconds(40))
        #expect(outcome.startedAt != nil)
    }

    @Test("the row's max_attempts overrides its target's")
    func rowMaxAttempts() async throws {
        let outcome = try await Self.executor(.succeeding).execute(Self.attempt(maxAttempts: 9))
        #expect(outcome.maxAttempts == 9)
    }

    @Test("an encrypted row the node has no key for fails as 'decryption' and is never sent")
    func decryptionFailureNotSent() async throws {
        let caller = ScriptedCaller.succeeding
        let outcome = try await Self.executor(caller).execute(Self.attempt(encryptor: "aes-gcm-v1:k1"))
        #expect(outcome.disposition == .failed)
        #expect(outcome.errorKind == .decryption)
        #expect(caller.calls.isEmpty)
    }

    @Test("an attempt claimed more often than max_attempts fails as 'tries_exhausted' and is never sent")
    func overClaimedNotSent() async throws {
        let caller = ScriptedCaller.succeeding
        let outcome = try await Self.executor(caller).execute(Self.attempt(number: 5))
        #expect(outcome.disposition == .failed)
        #expect(outcome.errorKind == .triesExhausted)
        #expect(caller.calls.isEmpty)
    }

    @Test(
        "an attempt of a target the node does not serve (the webhook, when none is configured) is given back uncalled",
        arguments: [
            "Other", Schema.webhookTarget,
        ])
    func unservedReleased(target: String) async throws {
        let caller = ScriptedCaller.succeeding
        let outcome = try await Self.executor(caller).execute(Self.attempt(target: target))
        #expect(outcome.disposition == .release)
        #expect(caller.calls.isEmpty)
    }

    @Test(
        "a keyed attempt's permanent failure blocks its key only under on_failure: block; retries, successes and unkeyed failures never do",
        arguments: [
            (OrderingFailurePolicy.block, "k", 400, true), (.skip, "k", 400, false), (.block, nil, 400, false), (.block, "k", 503, false),
            (.block, "k", 200, false),
        ] as [(OrderingFailurePolicy, String?, Int, Bool)])
    func blocksKey(policy: OrderingFailurePolicy, key: String?, status: Int, blocks: Bool) async throws {
        let caller = ScriptedCaller { _, _ in
            switch status {
            case 200: .succeeded(status: 200, excerpt: "")
            case 503: .retryable(kind: .httpStatus, message: "busy", httpStatus: 503, retryAfter: nil, excerpt: "")
            default: .permanent(kind: .httpStatus, message: "bad", httpStatus: status, excerpt: "")
            }
        }
        var attempt = Self.attempt()
        attempt.orderingKey = key
        let outcome = try await Self.executor(caller, onFailure: policy).execute(attempt)
        #expect(outcome.blocksKey == blocks)
    }

    @Test("a keyed attempt claimed longer ago than the stale age is given back uncalled; a fresh one, or one without a key, is called")
    func staleKeyedClaimReleased() async throws {
        let clock = ManualClock()
        let claimedAt = clock.now
        clock.advance(by: .seconds(2))
        for (key, stale, called) in [("k", Duration.seconds(1), false), ("k", .seconds(5), true), (nil, .seconds(1), true)]
            as [(String?, Duration, Bool)]
        {
            let caller = ScriptedCaller.succeeding
            var attempt = Self.attempt()
            attempt.orderingKey = key
            attempt.claimedAt = claimedAt
            let outcome = try await Self.executor(caller, clock: clock, staleClaimAge: stale).execute(attempt)
            #expect(outcome.disposition == (called ? .succeeded : .release), "key \(key ?? "none"), stale after \(stale)")
            #expect(caller.calls.count == (called ? 1 : 0))
        }
    }
}
