extension Schema {
    /// The time of calls, in milliseconds, that a rate-limited target's token bucket keeps off its capacity
    /// (schema v11): an attempt takes its token when it is claimed and reaches the target later, so over any
    /// second the claims leave room for calls that start up to this long after their claim. A node's attempts
    /// claimed ahead of its free slots take at most ``ratePrefetchMarginMs`` of it; the rest is for the delay
    /// between a claim's commit and the call's start on a loaded node.
    public static let rateStartMarginMs = 75

    /// The part of ``rateStartMarginMs`` that a node may hold in attempts claimed ahead of its free slots.
    public static let ratePrefetchMarginMs = 25

    /// Schema v11: more room for late calls under a rate limit.
    ///
    /// The claim function keeps ``rateStartMarginMs`` (75 ms, was 50) of calls off a rate-limited target's
    /// bucket. With 50 ms, which attempts claimed ahead could use up, a test with four nodes on two cores saw 222
    /// calls in one second under `rate: 200/s, burst: 20` (limit 220): some calls started more than 50 ms after
    /// their claim. Nodes now claim ahead by at most ``ratePrefetchMarginMs`` of the rate, so 50 ms are left for
    /// start delays. Version 8's signature (nodes of earlier releases) keeps 50 ms.
    static let version11 = Migration(
        version: 11, name: "rate_start_margin",
        sql: claimFunction(create: "CREATE OR REPLACE", rateMarginMs: rateStartMarginMs))
}
