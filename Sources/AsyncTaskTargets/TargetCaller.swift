public import CurlHTTP
public import Foundation

/// Calls targets: builds the request, sends it through an ``HTTPEngine`` and classifies the outcome.
///
/// Never throws: every failure, including an invalid method name in the row, is an outcome.
/// The per-target ``TargetConfiguration/concurrency`` limit is the caller's (the node's) to enforce.
public struct TargetCaller: Sendable {
    /// The engine the calls go through.
    public let engine: HTTPEngine
    /// The classifier.
    public var classifier: OutcomeClassifier
    /// The clock against which HTTP-date `Retry-After` values are read (injectable for tests).
    public var now: @Sendable () -> Date

    /// Creates a caller over `engine`.
    public init(engine: HTTPEngine, classifier: OutcomeClassifier = OutcomeClassifier(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.engine = engine
        self.classifier = classifier
        self.now = now
    }

    /// Makes `call` to `target` and returns its outcome.
    public func call(_ call: TargetCall, to target: TargetConfiguration) async -> CallOutcome {
        let request: HTTPRequest
        do {
            request = try TargetRequestBuilder.makeRequest(for: call, to: target)
        } catch {
            return classifier.classify(error)
        }
        return await send(request, protocol: target.protocol, attemptID: call.attemptID)
    }

    /// Sends a request built elsewhere (a webhook delivery, which has its own headers and signature) and
    /// classifies its outcome by the same rules as a target call's.
    /// - Parameters:
    ///   - protocol: how the response is read (`http`: by status; `jsonrpc`: the envelope for `attemptID`).
    ///   - attemptID: the attempt the request is a try of.
    public func send(_ request: HTTPRequest, protocol: TargetProtocol, attemptID: Int64) async -> CallOutcome {
        do {
            let response = try await engine.execute(request)
            return classifier.classify(response, protocol: `protocol`, attemptID: attemptID, now: now())
        } catch {
            return classifier.classify(error)
        }
    }
}
