/// Keeps secrets and attempt arguments out of log lines, whatever a caller put in the metadata: values of
/// secret-looking keys are replaced, and passwords inside URLs (`postgresql://user:pw@host`) are masked.
enum LogRedaction {
    /// Metadata keys whose values are never logged.
    static let secretKeys: Set<String> = [
        "token", "admin_token", "password", "authorization", "secret", "database_url", "args", "arguments", "method_args",
    ]

    static func redact(key: String, _ value: String) -> String {
        let lowered = key.lowercased()
        if secretKeys.contains(lowered) || lowered.hasSuffix("_token") || lowered.hasSuffix("_password") { return "[redacted]" }
        return maskURLPasswords(value)
    }

    /// `scheme://user:secret@host` → `scheme://user:***@host`.
    static func maskURLPasswords(_ text: String) -> String {
        guard text.contains("://") else { return text }
        return text.replacing(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\/\s:@]*):[^@\s\/]+@/) { match in "\(match.output.1):***@" }
    }
}
