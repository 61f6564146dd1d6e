import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import CoreMetrics
import Foundation
import Logging

/// Runs one claimed attempt: checks it can run, calls its target, and turns the result into what happens next
/// (succeeded, retry after a backoff, failed, or lease released) by `OutcomeDecision` (DESIGN §3 and §4).
struct AttemptExecutor: Sendable {
    /// Every target this node serves, the reserved `@webhook` among them when a webhook is configured.
    let served: [String: ServedTarget]
    let caller: any TargetCalling
    /// Gathers the calls of targets with `batch` into batched requests.
    let batches: BatchDispatcher
    /// Opens rows whose `encryptor` is set; `NullEncryptor` when the node has no keys.
    let encryptor: any Encryptor
    let metrics: WorkerMetrics
    let logger: Logger
    let clock: any WorkerClock
    /// A keyed attempt whose claim is older than this when its slot takes it is given back, not called (half of
    /// the shorter of `node.lease` and `node.dead_after`; a buffered attempt normally waits milliseconds). A node
    /// frozen or cut off that long may have lost the lease, to its lapse or to a peer reaping it as dead, and
    /// the key moved on elsewhere: calling it now could overtake or overlap the key's next attempt. nil: never.
    let staleClaimAge: Duration?

    /// - Parameter webhook: delivers event rows of the reserved `@webhook` target, when a webhook is configured.
    init(
        targets: [String: TargetConfiguration], caller: any TargetCalling, batches: BatchDispatcher, encryptor: any Encryptor,
        webhook: WebhookDelivery?, metrics: WorkerMetrics, logger: Logger, clock: any WorkerClock = .continuous,
        staleClaimAge: Duration? = nil
    ) {
        var served = targets.mapValues { ServedTarget(configuration: $0, delivery: .call) }
        if let webhook {
            served[Schema.webhookTarget] = ServedTarget(configuration: webhook.configuration.target, delivery: .webhook(webhook))
        }
        self.served = served
        self.caller = caller
        self.batches = batches
        self.encryptor = encryptor
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.staleClaimAge = staleClaimAge
    }

    /// Runs `attempt` and stamps its outcome with what the try history keeps: when the try started, how long it
    /// took and the `max_attempts` in force.
    func execute(_ attempt: ClaimedAttempt) async -> AttemptOutcome {
        let startedAt = Date()
        let started = clock.now
        guard let target = served[attempt.target] else {
            // The claim only asks for served targets; a row can never reach here unserved. Give it back.
            var outcome = OutcomeDecision.release(attempt)
            outcome.startedAt = startedAt
            outcome.duration = clock.now - started
            outcome.maxAttempts = attempt.maxAttempts
            return outcome
        }
        let decision = OutcomeDecision(
            maxAttempts: attempt.maxAttempts ?? target.configuration.maxAttempts, backoff: target.configuration.backoff,
            maxRetryDuration: target.configuration.maxRetryDuration)
        var outcome: AttemptOutcome
        if isStale(attempt, at: started) {
            // Given back under its lease, or fenced out when another node has taken the attempt meanwhile.
            logger.warning(
                "not starting a keyed attempt claimed longer ago than half a lease; giving it back",
                metadata: ["attempt_id": .stringConvertible(attempt.id), "target": "\(attempt.target)"])
            outcome = OutcomeDecision.release(attempt)
        } else if let refused = decision.beforeCall(attempt) {
            outcome = refused
        } else {
            let opened = open(attempt, for: target)
            if let refused = opened.failure {
                outcome = refused
            } else {
                let result = await call(attempt, arguments: opened.arguments, target: target)
                metrics.callDuration(target: attempt.target).recordNanoseconds((clock.now - started).nanoseconds)
                outcome = decision.afterCall(result, of: attempt)
            }
        }
        outcome.startedAt = startedAt
        outcome.duration = clock.now - started
        outcome.maxAttempts = decision.maxAttempts
        outcome.blocksKey = outcome.disposition == .failed && attempt.orderingKey != nil && target.configuration.orderingOnFailure == .block
        log(outcome)
        return outcome
    }

    /// Whether `attempt` has an ordering key and was claimed longer ago than `staleClaimAge`.
    private func isStale(_ attempt: ClaimedAttempt, at now: ContinuousClock.Instant) -> Bool {
        guard attempt.orderingKey != nil, let staleClaimAge, let claimedAt = attempt.claimedAt else { return false }
        return now - claimedAt > staleClaimAge
    }

    /// The arguments to send, or the failed outcome of a row whose arguments cannot be opened.
    private func open(_ attempt: ClaimedAttempt, for target: ServedTarget) -> (arguments: [UInt8], failure: AttemptOutcome?) {
        var arguments = Array(attempt.methodArgs.utf8)
        var scheme = attempt.encryptor
        if scheme == GemArgumentsDecoder.nullEncryptor {
            // Inserted by the unchanged async_task gem into an adopted table: never sent unless its YAML decodes.
            do {
                arguments = Array(try GemArgumentsDecoder().json(fromStored: attempt.methodArgs).utf8)
                scheme = nil
            } catch {
                return (
                    [],
                    OutcomeDecision.failure(
                        attempt, .failed, kind: .argumentsUndecodable,
                        message: "attempt \(attempt.id): \(error.description); fix its method_args, then `asynctask attempts retry \(attempt.id)`")
                )
            }
        }
        if target.opensArguments, let scheme {
            do {
                arguments = Array(try encryptor.decrypt(Data(arguments), id: scheme, target: attempt.target, method: attempt.methodName))
            } catch {
                // The error names the scheme and key id only; the plaintext never leaves this function.
                return (
                    [],
                    OutcomeDecision.failure(
                        attempt, .failed, kind: .decryption,
                        message: "\(error.description); fix the node's keys, then `asynctask attempts retry \(attempt.id)`")
                )
            }
        }
        return (arguments, nil)
    }

    private func call(_ attempt: ClaimedAttempt, arguments: [UInt8], target: ServedTarget) async -> CallOutcome {
        switch target.delivery {
        case .webhook(let webhook):
            return await webhook.deliver(attempt)
        case .call:
            let call = TargetCall(
                attemptID: attempt.id, attemptNumber: attempt.attemptNumber, methodName: attempt.methodName,
                arguments: arguments, idempotencyKey: attempt.idempotenceToken)
            if let batch = target.configuration.batch {
                return await batches.call(call, to: target.configuration, settings: batch)
            }
            return await caller.call(call, to: target.configuration)
        }
    }

    /// Logs a failed or retried try (successes and released leases are counted, not logged).
    private func log(_ outcome: AttemptOutcome) {
        guard outcome.error != nil, let kind = outcome.errorKind else { return }
        let attempt = outcome.attempt
        var metadata: Logger.Metadata = [
            "attempt_id": .stringConvertible(attempt.id), "target": "\(attempt.target)", "method": "\(attempt.methodName)",
            "attempt_number": .stringConvertible(attempt.attemptNumber), "error_kind": "\(kind)",
        ]
        if let status = outcome.httpStatus { metadata["http_status"] = .stringConvertible(status) }
        if case .retry(let delay) = outcome.disposition { metadata["retry_in"] = "\(delay)" }
        logger.warning(outcome.disposition == .failed ? "attempt failed" : "attempt will be retried", metadata: metadata)
    }
}
