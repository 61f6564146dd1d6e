import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import CoreMetrics
import Foundation
import Logging

/// Runs one claimed attempt: checks it can run, calls its target, and decides what happens next (succeeded,
/// retry after a backoff, failed, or lease released) by DESIGN §3 and §4.
struct AttemptExecutor: Sendable {
    let targets: [String: TargetConfiguration]
    let caller: TargetCaller
    /// Gathers the calls of targets with `batch` into batched requests.
    let batches: BatchDispatcher
    /// Opens rows whose `encryptor` is set; `NullEncryptor` when the node has no keys.
    let encryptor: any Encryptor
    /// Delivers event rows of the reserved `@webhook` target, when a webhook is configured.
    let webhook: WebhookDelivery?
    let metrics: WorkerMetrics
    let logger: Logger

    /// Runs `attempt` and stamps its outcome with what the try history keeps: when the try started, how long it
    /// took and the `max_attempts` in force.
    func execute(_ attempt: ClaimedAttempt) async -> AttemptOutcome {
        let startedAt = Date(), started = ContinuousClock.now
        var outcome = await run(attempt)
        outcome.startedAt = startedAt
        outcome.duration = ContinuousClock.now - started
        outcome.maxAttempts = attempt.maxAttempts ?? target(of: attempt)?.maxAttempts
        return outcome
    }

    /// The configuration that serves `attempt`: the webhook's for `@webhook` rows, else its target's.
    private func target(of attempt: ClaimedAttempt) -> TargetConfiguration? {
        attempt.target == Schema.webhookTarget ? webhook?.configuration.target : targets[attempt.target]
    }

    private func run(_ attempt: ClaimedAttempt) async -> AttemptOutcome {
        guard let target = target(of: attempt) else {
            // The claim only asks for served targets; a row can never reach here unserved. Give it back.
            return AttemptOutcome(attempt: attempt, disposition: .release, error: nil, errorKind: nil, httpStatus: nil)
        }
        let maxAttempts = attempt.maxAttempts ?? target.maxAttempts
        if attempt.attemptNumber > maxAttempts {
            // Claimed more often than it may run: earlier tries lost their leases (crashed nodes) before recording.
            return failure(attempt, .failed, kind: "tries_exhausted",
                           message: "claimed \(attempt.attemptNumber) times, more than max_attempts \(maxAttempts), without a recorded outcome", status: nil)
        }
        var arguments = Array(attempt.methodArgs.utf8)
        var scheme = attempt.encryptor
        if scheme == GemArgumentsDecoder.nullEncryptor {
            // Inserted by the unchanged async_task gem into an adopted table: never sent unless its YAML decodes.
            do {
                arguments = Array(try GemArgumentsDecoder().json(fromStored: attempt.methodArgs).utf8)
                scheme = nil
            } catch {
                return failure(attempt, .failed, kind: GemArgumentsDecoder.errorKind,
                               message: "attempt \(attempt.id): \(error.description); fix its method_args, then `asynctask attempts retry \(attempt.id)`", status: nil)
            }
        }
        if attempt.target != Schema.webhookTarget, let scheme {
            do {
                arguments = Array(try encryptor.decrypt(Data(arguments), id: scheme, target: attempt.target, method: attempt.methodName))
            } catch {
                // The error names the scheme and key id only; the plaintext never leaves this function.
                return failure(attempt, .failed, kind: "decryption",
                               message: "\(error.description); fix the node's keys, then `asynctask attempts retry \(attempt.id)`", status: nil)
            }
        }
        let started = ContinuousClock.now
        let outcome: CallOutcome
        if attempt.target == Schema.webhookTarget, let webhook {
            outcome = await webhook.deliver(attempt)
        } else {
            let call = TargetCall(
                attemptID: attempt.id, attemptNumber: attempt.attemptNumber, methodName: attempt.methodName,
                arguments: arguments, idempotencyKey: attempt.idempotenceToken)
            if let batch = target.batch {
                outcome = await batches.call(call, to: target, settings: batch)
            } else {
                outcome = await caller.call(call, to: target)
            }
        }
        let elapsed = ContinuousClock.now - started
        metrics.callDuration(target: attempt.target).recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        switch outcome {
        case .succeeded(let status, _):
            return AttemptOutcome(attempt: attempt, disposition: .succeeded, error: nil, errorKind: nil, httpStatus: status)
        case .retryable(let kind, _, _, _, _) where kind == .cancelled || kind == .shutdown:
            return AttemptOutcome(attempt: attempt, disposition: .release, error: nil, errorKind: nil, httpStatus: nil)
        case .retryable(let kind, let message, let status, let retryAfter, let excerpt):
            guard attempt.attemptNumber < maxAttempts else {
                return failure(attempt, .failed, kind: kind.rawValue, message: "tries exhausted (\(maxAttempts)): \(message)", status: status, excerpt: excerpt)
            }
            let delay = max(target.backoff.delay(afterAttempt: attempt.attemptNumber), retryAfter ?? .zero)
            return failure(attempt, .retry(after: delay), kind: kind.rawValue, message: message, status: status, excerpt: excerpt)
        case .permanent(let kind, let message, let status, let excerpt):
            return failure(attempt, .failed, kind: kind.rawValue, message: message, status: status, excerpt: excerpt)
        }
    }

    private func failure(
        _ attempt: ClaimedAttempt, _ disposition: AttemptOutcome.Disposition, kind: String, message: String, status: Int?, excerpt: String = ""
    ) -> AttemptOutcome {
        let text = "\(kind): \(message)"
        var metadata: Logger.Metadata = [
            "attempt_id": "\(attempt.id)", "target": "\(attempt.target)", "method": "\(attempt.methodName)",
            "attempt_number": "\(attempt.attemptNumber)", "error_kind": "\(kind)",
        ]
        if let status { metadata["http_status"] = "\(status)" }
        if case .retry(let delay) = disposition { metadata["retry_in"] = "\(delay)" }
        logger.warning(disposition == .failed ? "attempt failed" : "attempt will be retried", metadata: metadata)
        return AttemptOutcome(attempt: attempt, disposition: disposition, error: text, errorKind: kind, httpStatus: status, excerpt: excerpt)
    }
}
