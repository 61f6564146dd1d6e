public import AsyncTaskCore

/// An operator action with what the operator gave for it: a fail's reason, a retry's extra tries.
///
/// The same value drives one attempt (`AttemptActions.apply(_:to:on:)`) and every match of a filter
/// (`BulkAttemptActions`), so the CLI, the admin API and the dashboard build it once and pass it on.
public struct AttemptActionRequest: Sendable, Hashable {
    /// The action; its transition (which statuses it applies to, what it leaves) is `action.transition`.
    public let action: AttemptAction
    /// A fail's reason, recorded as the attempt's last error; nil keeps the last error. Only `fail` uses it.
    public let reason: String?
    /// How many more tries a retried attempt gets from here; nil keeps its `max_attempts`. Only `retry` uses it.
    public let extraTries: Int?

    private init(action: AttemptAction, reason: String? = nil, extraTries: Int? = nil) {
        self.action = action
        self.reason = reason
        self.extraTries = extraTries
    }

    /// Pending → expired.
    public static let expire = AttemptActionRequest(action: .expire)

    /// Pending → failed, with an optional reason as the last error.
    public static func fail(reason: String?) -> AttemptActionRequest {
        AttemptActionRequest(action: .fail, reason: reason)
    }

    /// Failed or expired → pending, with `extraTries` more tries (nil keeps `max_attempts`).
    public static func retry(extraTries: Int?) -> AttemptActionRequest {
        AttemptActionRequest(action: .retry, extraTries: extraTries)
    }

    /// `action` with the operator's input where it applies: `reason` for fail, `extraTries` for retry.
    public static func action(_ action: AttemptAction, reason: String? = nil, extraTries: Int? = 1) -> AttemptActionRequest {
        switch action {
        case .expire: .expire
        case .fail: .fail(reason: reason)
        case .retry: .retry(extraTries: extraTries)
        }
    }

    /// The statuses it applies to.
    public var appliesTo: [AttemptStatus] { action.appliesTo }

    /// The verb, for messages ("expire", "fail", "retry").
    public var verb: String { action.verb }
}
