/// The one rule for keeping secrets out of logs, error messages and command output: values of secret-looking
/// keys are replaced whole, and passwords inside text (`postgresql://user:pw@host`, `password=pw`) are masked.
public enum Redaction {
    /// What a redacted value is replaced with.
    public static let placeholder = "[redacted]"

    /// Metadata keys whose values are never shown (compared in lower case; any key ending in `_token` or
    /// `_password` too): credentials, and attempt arguments, which may hold personal data.
    public static let secretKeys: Set<String> = [
        "token", "admin_token", "password", "authorization", "secret", "database_url", "args", "arguments", "method_args",
    ]

    /// `value` as it may be shown under `key`: ``placeholder`` for a secret key, else `value` with its passwords
    /// masked (``maskingPasswords(in:)``).
    public static func redact(key: String, _ value: String) -> String {
        let lowered = key.lowercased()
        if secretKeys.contains(lowered) || lowered.hasSuffix("_token") || lowered.hasSuffix("_password") { return placeholder }
        return maskingPasswords(in: value)
    }

    /// `text` with every password it holds replaced by `***`:
    /// - in URLs, `scheme://user:secret@host` → `scheme://user:***@host`, up to the authority's last `@` (a
    ///   password with an unencoded `@` is masked whole);
    /// - in query strings and libpq's `key=value` form, `password=secret` → `password=***` (up to `&` or
    ///   whitespace; the key in any case).
    ///
    /// Works on any text (a URL, a log message, an error), leaving everything else as it was.
    public static func maskingPasswords(in text: String) -> String {
        var result = text
        if result.contains("://") {
            result.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\/\s:@?#]*):[^\s\/?#]+@/) { match in "\(match.output.1):***@" }
        }
        if result.lowercased().contains("password=") {
            result.replace(/(?i)(password=)[^&\s]*/) { match in "\(match.output.1)***" }
        }
        return result
    }
}
