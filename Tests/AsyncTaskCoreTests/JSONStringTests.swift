import AsyncTaskCore
import Foundation
import Testing

@Suite("JSONString: a Swift string as a JSON string literal")
struct JSONStringTests {
    @Test("quotes, backslashes and control characters are escaped; everything else is written as itself")
    func escapes() throws {
        var output = ""
        JSONString.append("a\"b\\c\nd\re\tf\u{08}g\u{0C}h\u{01}i\u{1F}j é 漢字 🚀 /", to: &output)
        #expect(output == #""a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj é 漢字 🚀 /""#)
        // What a JSON parser reads back is the string written.
        let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8), options: [.fragmentsAllowed]) as? String
        #expect(parsed == "a\"b\\c\nd\re\tf\u{08}g\u{0C}h\u{01}i\u{1F}j é 漢字 🚀 /")
    }
}
