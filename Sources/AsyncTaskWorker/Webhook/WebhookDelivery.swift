import AsyncTaskTargets
import CurlHTTP
import Foundation

/// Delivers one event row (an attempt of the reserved `@webhook` target): POSTs its stored body, signed, to the
/// webhook URL. Every failure is retryable, so a receiver that is down, misconfigured or rotating secrets loses
/// nothing until `max_attempts`.
struct WebhookDelivery: Sendable {
    let configuration: WebhookConfiguration
    let engine: HTTPEngine
    let classifier = OutcomeClassifier()

    func deliver(_ attempt: ClaimedAttempt) async -> CallOutcome {
        let body = Array(attempt.methodArgs.utf8)
        var headers: HTTPHeaders = [:]
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "AsyncTask-Event", value: attempt.methodName)
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let eventID = object["event_id"] as? String {
            headers.add(name: "AsyncTask-Event-Id", value: eventID)
        }
        headers.add(name: "AsyncTask-Delivery-Attempt", value: String(attempt.attemptNumber))
        for field in configuration.target.headers { headers.add(name: field.name, value: field.value) }
        if !configuration.secrets.isEmpty {
            let timestamp = Int64(Date().timeIntervalSince1970)
            headers.add(name: "AsyncTask-Signature", value: WebhookSignature.header(body: body, timestamp: timestamp, secrets: configuration.secrets))
        }
        let target = configuration.target
        let request = HTTPRequest(
            method: .post, url: target.url, headers: headers, body: body, connectTimeout: target.connectTimeout,
            timeout: target.timeout, tls: target.tls, maxResponseBytes: 64 << 10)
        let outcome: CallOutcome
        do {
            outcome = classifier.classify(try await engine.execute(request), protocol: .http, attemptID: attempt.id, now: Date())
        } catch {
            outcome = classifier.classify(error)
        }
        if case .permanent(let kind, let message, let status, let excerpt) = outcome {
            return .retryable(kind: kind, message: message, httpStatus: status, retryAfter: nil, excerpt: excerpt)
        }
        return outcome
    }
}
