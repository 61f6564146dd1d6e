/// The events the webhook trigger writes (DESIGN §5): the event row's `method_name` and the body's `event`.
///
/// The trigger's SQL (`Schema.version6`) is built from these cases and the state changes they name, so the
/// names exist once, here.
public enum WebhookEvent: String, Sendable, Hashable, CaseIterable, Codable {
    /// A retryable failure (the attempt will run again): pending with a new `last_error_at`.
    case error = "attempt.error"
    /// A permanent failure, tries exhausted, or an operator's `fail`: pending → failed.
    case failed = "attempt.failed"
    /// An operator's `expire`: pending → expired.
    case expired = "attempt.expired"
}
