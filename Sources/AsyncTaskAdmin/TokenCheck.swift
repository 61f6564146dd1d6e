import Foundation

/// Decides whether a presented admin token may run a mutating action.
///
/// Without a configured token every action is refused (actions are opt-in). Comparison takes the same time
/// whatever prefix matches, so the token cannot be guessed byte by byte from response times.
struct TokenCheck: Sendable {
    /// Why an action was refused.
    enum Refusal: Error, Sendable, Equatable {
        /// `admin.token` is not set: actions are disabled on this node.
        case notConfigured
        /// No token, or a wrong one, was presented.
        case invalid
    }

    let expected: String?

    /// Accepts `presented` or says why not.
    func verify(_ presented: String?) throws(Refusal) {
        guard let expected, !expected.isEmpty else { throw .notConfigured }
        guard let presented, Self.constantTimeEquals(Array(presented.utf8), Array(expected.utf8)) else { throw .invalid }
    }

    /// The token of an `Authorization: Bearer …` header value.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // The length difference is a flag of its own: truncating `a.count ^ b.count` to a byte made lengths that
        // differ by a multiple of 256 look equal, so the token followed by 256 NUL bytes (%00 in a form) passed.
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
