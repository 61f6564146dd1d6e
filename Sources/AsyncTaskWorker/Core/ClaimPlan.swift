/// What the next claim may take, as the prefetch buffer decided it (`PrefetchBuffer.reserve`): room reserved
/// for it, at most `total` attempts in all and at most each cap's `limit` of its target. Hand it back to
/// `PrefetchBuffer.commit` with what the claim returned, so several claim loops claiming at once never exceed
/// a bound together.
struct ClaimPlan: Sendable {
    /// Each target due a claim, and how many of its attempts the claim may take.
    var caps: [(target: String, limit: Int)]
    /// How many attempts the claim may take in all.
    var total: Int
    /// The buffer's count of wake-ups when the room was reserved.
    var wakes = 0
    /// The cluster-wide limits of the capped targets that have any (their claims go through the claim
    /// function, which enforces them).
    var limits: [String: TargetLimits] = [:]

    /// Room for nothing: no claim is due, or no handover wanted.
    static let nothing = ClaimPlan(caps: [], total: 0)

    /// True when no claim is due now (the buffer is deep enough, the slots are full, or every target is quiet).
    var isEmpty: Bool { caps.isEmpty || total <= 0 }
}
