/// A bounded, valid UTF-8 prefix of a response body, for errors and the webhook.
public enum ResponseExcerpt {
    /// The default bound: 512 bytes of UTF-8.
    public static let defaultMaxBytes = 512

    /// At most `maxBytes` bytes of UTF-8: invalid sequences become U+FFFD, and the cut never
    /// splits a character.
    public static func make(_ body: [UInt8], maxBytes: Int = defaultMaxBytes) -> String {
        guard maxBytes > 0, !body.isEmpty else { return "" }
        var cut = min(body.count, maxBytes)
        // Back up to the start of a character rather than cut one in two.
        while cut > 0, cut < body.count, body[cut] & 0xC0 == 0x80 { cut -= 1 }
        var text = String(decoding: body.prefix(cut), as: UTF8.self)
        // Replacement characters are 3 bytes for 1 invalid byte, so the text may have grown.
        while text.utf8.count > maxBytes { text.removeLast() }
        return text
    }
}
