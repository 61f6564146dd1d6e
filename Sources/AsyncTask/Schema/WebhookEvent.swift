/// The events the webhook triggers and functions write (DESIGN §5): the event row's `method_name` and the body's `event`.
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
    /// A target's circuit opened (`targets.<name>.circuit`, schema v10): no calls until its cooldown passes.
    case circuitOpened = "target.circuit_opened"
    /// A target's circuit closed again: its probe calls succeeded.
    case circuitClosed = "target.circuit_closed"
}
