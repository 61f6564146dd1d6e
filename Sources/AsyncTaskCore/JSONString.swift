/// Writes a Swift string as a JSON string literal, for code that writes JSON text itself instead of going
/// through a serializer: the gem's arguments converted to JSON (`GemArgumentsDecoder`) and the example target's
/// record lines and batched replies.
public enum JSONString {
    /// Appends `text` to `output` quoted and escaped as RFC 8259 asks: `"` and `\` escaped, control characters
    /// as their short escapes or `\u00XX`; everything else, non-ASCII included, as itself.
    public static func append(_ text: String, to output: inout String) {
        output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case "\u{08}": output.append("\\b")
            case "\u{0C}": output.append("\\f")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}
