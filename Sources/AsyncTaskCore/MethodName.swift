/// The rule for method names taken from attempt rows: `[A-Za-z_][A-Za-z0-9_.-]{0,127}` and no `..`.
///
/// Rows are data, not configuration: a name with `/`, `?`, `#`, `%`, whitespace or a dot-dot
/// segment could otherwise steer the call to another path of the target, or another URL. Producers check it
/// when they build an `Attempt`; nodes check it again for rows written with plain SQL.
public enum MethodName {
    /// The longest allowed name, in characters.
    public static let maxLength = 128

    /// Whether `name` may be called.
    public static func isValid(_ name: String) -> Bool {
        // On the UTF-8 bytes, without copying or substring search: nodes check every call.
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= maxLength, isLetter(first) || first == UInt8(ascii: "_") else { return false }
        var previous = first
        for byte in bytes.dropFirst() {
            guard isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") else {
                return false
            }
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
