import AsyncTaskCore
import CurlHTTP
import Foundation

extension TargetCaller {
    /// Makes `calls` (one method, one target with ``TargetConfiguration/batch``) as one batched request and
    /// returns each call's outcome, in the order of `calls`, with what the reply held that matched no call.
    ///
    /// A call the builder refuses fails on its own (as it would unbatched); the others share one request,
    /// and ``BatchReplyClassifier`` decides each one's outcome from the reply.
    public func call(batch calls: [TargetCall], to target: TargetConfiguration) async -> (outcomes: [CallOutcome], reply: BatchReplyClassifier.Reply)
    {
        let batch = BatchRequestBuilder.makeRequest(for: calls, to: target)
        var outcomes: [Int64: CallOutcome] = [:]
        for (call, error) in batch.refused { outcomes[call.attemptID] = classifier.classify(error) }
        var reply = BatchReplyClassifier.Reply(outcomes: [:])
        if let request = batch.request {
            let ids = batch.sent.map(\.attemptID)
            let replyClassifier = BatchReplyClassifier(classifier: classifier)
            do {
                let response = try await engine.execute(request)
                reply = replyClassifier.classify(response, protocol: target.protocol, attemptIDs: ids, now: now())
            } catch {
                reply = replyClassifier.classify(error, attemptIDs: ids)
            }
            outcomes.merge(reply.outcomes) { _, sent in sent }
        }
        let missing = CallOutcome.retryable(
            kind: .internal, message: "no outcome for this call of the batch", httpStatus: nil, retryAfter: nil, excerpt: "")
        return (calls.map { outcomes[$0.attemptID] ?? missing }, reply)
    }
}
