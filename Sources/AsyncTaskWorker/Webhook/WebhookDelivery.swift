import AsyncTaskTargets
import CurlHTTP
import Foundation

/// Delivers one event row (an attempt of the reserved `@webhook` target): POSTs its stored body, signed, to the
/// webhook URL through the same `TargetCaller` as target calls (engine, limits, outcome rules). Every failure is
/// retryable, so a receiver that is down, misconfigured or rotating secrets loses nothing until `max_attempts`.
struct WebhookDelivery: Sendable {
    /// The webhook: receiver (as a target), secrets, events.
    let configuration: WebhookConfiguration
    /// Sends the request and classifies the answer, as for targets.
    let caller: TargetCaller

    /// A delivery through `caller`.
    init(configuration: WebhookConfiguration, caller: TargetCaller) {
        self.configuration = configuration
        self.caller = caller
    }

    /// A delivery through a caller of its own over `engine`.
    init(configuration: WebhookConfiguration, engine: HTTPEngine) {
        self.init(configuration: configuration, caller: TargetCaller(engine: engine))
    }

    /// The most of a receiver's answer that is read: an excerpt is all an event's outcome keeps.
    static let maxResponseBytes = 64 << 10

    /// Delivers `attempt` (an event row) and returns the outcome, a permanent failure turned retryable.
    func deliver(_ attempt: ClaimedAttempt) async -> CallOutcome {
        let outcome = await caller.send(request(for: attempt), protocol: .http, attemptID: attempt.id)
        if case .permanent(let kind, let message, let status, let excerpt) = outcome {
            return .retryable(kind: kind, message: message, httpStatus: status, retryAfter: nil, excerpt: excerpt)
        }
        return outcome
    }

    /// The delivery's request: `POST webhook.url` with the stored body, the event headers and the signature.
    func request(for attempt: ClaimedAttempt, now: Date = Date()) -> HTTPRequest {
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
            let timestamp = Int64(now.timeIntervalSince1970)
            headers.add(name: "AsyncTask-Signature", value: WebhookSignature.header(body: body, timestamp: timestamp, secrets: configuration.secrets))
        }
        let target = configuration.target
        return HTTPRequest(
            method: .post, url: target.url, headers: headers, body: body, connectTimeout: target.connectTimeout,
            timeout: target.timeout, tls: target.tls, maxResponseBytes: Self.maxResponseBytes)
    }
}
