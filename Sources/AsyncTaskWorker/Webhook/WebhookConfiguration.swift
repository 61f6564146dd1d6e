public import AsyncTask
public import AsyncTaskTargets

/// Where and how failure events are delivered (DESIGN §5): the gem's `handle_perform_error`, as signed HTTP
/// POSTs to one URL.
public struct WebhookConfiguration: Sendable {
    /// The event kinds a webhook can receive (the trigger's names, in `AsyncTask`).
    public typealias Event = WebhookEvent

    /// The defaults of the `webhook` block's call keys (`timeout`, `max_attempts`, `backoff`, `concurrency`):
    /// a delivery retries longer and more often than a target's call, with fewer in flight.
    public static let callDefaults = TargetConfiguration.Defaults(
        maxAttempts: 100, backoff: Backoff(base: .seconds(1), max: .seconds(60)), concurrency: 16)

    /// The receiver, called through the same engine and rules as targets (`target.url` is the webhook URL).
    public var target: TargetConfiguration
    /// HMAC secrets; each delivery carries one `v1=` signature per secret, so receivers can rotate.
    public var secrets: [String]
    /// The events written and delivered.
    public var events: Set<Event>
    /// Whether the event carries the attempt's stored `method_args` (ciphertext stays ciphertext).
    public var includeArgs: Bool

    /// Creates a webhook configuration.
    public init(target: TargetConfiguration, secrets: [String], events: Set<Event>, includeArgs: Bool) {
        self.target = target
        self.secrets = secrets
        self.events = events
        self.includeArgs = includeArgs
    }
}
