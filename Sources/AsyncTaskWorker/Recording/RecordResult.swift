/// What an outcome flush did (`WorkerDriver.record`): which outcomes the lease fence let through, and which
/// attempts it leased to this node on the way.
struct RecordResult: Sendable {
    /// The ids of the attempts whose outcome was written (the others were re-claimed or changed meanwhile).
    var accepted: Set<Int64>
    /// The next attempt of ordering keys the flush passed on, leased to this node as a claim would lease them,
    /// within the room the node reserved for them: run them like claimed attempts.
    var handedOver: [ClaimedAttempt] = []
}
