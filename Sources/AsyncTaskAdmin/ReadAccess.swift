import Foundation

/// Decides whether a request may read the dashboard and the JSON API when `admin.read_token` is set.
///
/// The token (or the admin token, which implies reading) comes as `Authorization: Bearer <token>` or as the
/// password of HTTP Basic auth (any user name): browsers ask for Basic credentials once and resend them, so the
/// pages need no script and no cookie. Reading is all it grants: actions still need `admin.token` in the
/// request itself, so credentials a browser resends on its own can never make it act.
struct ReadAccess: Sendable {
    let readToken: String?
    let adminToken: String?

    /// True when no read token is configured, or `authorization` presents it or the admin token.
    func allows(authorization: String?) -> Bool {
        guard let readToken, !readToken.isEmpty else { return true }
        guard let presented = Self.presented(authorization) else { return false }
        let bytes = Array(presented.utf8)
        let readOK = TokenCheck.constantTimeEquals(bytes, Array(readToken.utf8))
        let adminOK = adminToken.map { !$0.isEmpty && TokenCheck.constantTimeEquals(bytes, Array($0.utf8)) } ?? false
        return readOK || adminOK
    }

    /// The token of a Bearer header, or the password of a Basic one.
    static func presented(_ header: String?) -> String? {
        if let bearer = TokenCheck.bearer(header) { return bearer }
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return String(text[text.index(after: colon)...])
    }
}
