/// What the attempts of an ordering key do when the key's head fails for good (`targets.<name>.ordering.on_failure`).
///
/// Attempts that share a `(target, ordering_key)` run one at a time in id order; a retry of the head holds the
/// key. When the head ends `failed` (tries exhausted, a permanent error, `max_retry_duration`), the policy says
/// whether the key moves on to its next attempt or waits for an operator.
public enum OrderingFailurePolicy: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The next attempt of the key runs; the failure's webhook event says the key moved on.
    case skip
    /// The rest of the key waits until an operator retries the failed head or unblocks the key
    /// (`asynctask targets unblock`); `doctor` and the dashboard report the blocked key.
    case block

    /// The default: an outbox keeps flowing past a failure its webhook reports.
    public static let `default` = OrderingFailurePolicy.skip

    public var description: String { rawValue }
}
