/// Invariant checks for fuzz targets: a violated invariant stops the process with a message naming the
/// invariant, which libFuzzer records as a crash (with the input that caused it) just like a trap.
public enum FuzzCheck {
    /// Stops the process when `condition` is false. `input` is shown (escaped) in the message.
    public static func require(_ condition: @autoclosure () -> Bool, _ invariant: @autoclosure () -> String, input: String, file: StaticString = #fileID, line: UInt = #line) {
        guard !condition() else { return }
        fatalError("invariant violated: \(invariant())\ninput: \(input.debugDescription)", file: file, line: line)
    }

    /// Whether `text` holds `part` as a run of Unicode scalars (not Characters: `String.contains` does not find a
    /// part that starts with a combining mark, since the mark merges with what precedes it).
    public static func contains(_ text: String, _ part: String) -> Bool {
        let whole = Array(text.unicodeScalars), piece = Array(part.unicodeScalars)
        guard !piece.isEmpty else { return true }
        guard whole.count >= piece.count else { return false }
        return (0...(whole.count - piece.count)).contains { whole[$0..<($0 + piece.count)].elementsEqual(piece) }
    }

    /// The fuzz input as a `String` (invalid UTF-8 becomes U+FFFD, as `String(decoding:as:)` does).
    public static func text(_ data: UnsafePointer<UInt8>?, _ size: Int) -> String {
        String(decoding: bytes(data, size), as: UTF8.self)
    }

    /// The fuzz input as bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }
}
