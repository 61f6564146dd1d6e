import AsyncTask

/// The `webhook` block's own keys (beside the call keys it shares with targets) as read, before the loader
/// checks them together: at least one secret between `secret` and `secrets`.
struct RawWebhookOptions: ConfigurationSection {
    /// `webhook.secret`: one signing secret, placed before `secrets`.
    var secret: String?
    /// `webhook.secrets`.
    var secrets: [String] = []
    /// `webhook.events`.
    var events = Set(WebhookConfiguration.Event.allCases)
    /// `webhook.include_args`.
    var includeArgs: Bool?

    static var defaults: RawWebhookOptions { RawWebhookOptions() }
}
