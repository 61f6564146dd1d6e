import AsyncTaskTargets

/// A target as the executor serves it: its configuration and how its attempts are delivered. The reserved
/// `@webhook` target is one of these like any other; `delivery` says what differs.
struct ServedTarget: Sendable {
    /// How an attempt of the target reaches it.
    enum Delivery: Sendable {
        /// A configured target: arguments opened by the row's encryption scheme, called (or batched) through the
        /// target caller.
        case call
        /// The reserved `@webhook` target: the stored event body is delivered as it is (an event is never
        /// encrypted, so no scheme is checked), signed with the webhook's secrets.
        case webhook(WebhookDelivery)
    }

    /// The configuration the call runs under (URL, timeouts, `max_attempts`, backoff).
    let configuration: TargetConfiguration
    let delivery: Delivery

    /// Whether the row's `encryptor` scheme is applied to its arguments before the call.
    var opensArguments: Bool {
        if case .call = delivery { return true }
        return false
    }
}
