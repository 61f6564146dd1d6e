/// Checks a request before any of it reaches libcurl, so that a bad value fails with a clear
/// error instead of being sent (a CR/LF in a header value would let a caller inject headers).
enum RequestValidator {
    static func validate(_ request: HTTPRequest) throws(HTTPClientError) {
        try validateURL(request.url)
        guard isToken(request.method.rawValue) else {
            throw HTTPClientError(code: .invalidRequest, detail: "the method is not an HTTP token")
        }
        for field in request.headers {
            guard isToken(field.name) else {
                throw HTTPClientError(code: .invalidRequest, detail: "header name '\(field.name.prefix(64))' is not an HTTP token")
            }
            guard isFieldValue(field.value) else {
                throw HTTPClientError(code: .invalidRequest, detail: "the value of header '\(field.name)' holds a control character")
            }
        }
    }

    /// Only absolute `http`/`https` URLs without whitespace or control characters.
    ///
    /// Works on the UTF-8 bytes without copying: every request is checked.
    static func validateURL(_ url: String) throws(HTTPClientError) {
        let bytes = url.utf8
        guard bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL holds whitespace or a control character")
        }
        guard let schemeLength = schemeLength(bytes) else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL has no scheme")
        }
        let scheme = bytes.prefix(schemeLength)
        // ASCII case folding: the only bytes that fold onto these letters are the letters themselves.
        func isScheme(_ name: String) -> Bool { scheme.elementsEqual(name.utf8) { $0 | 0x20 == $1 } }
        guard isScheme("http") || isScheme("https") else {
            let text = String(decoding: scheme, as: UTF8.self).lowercased()
            throw HTTPClientError(code: .unsupportedScheme, detail: "scheme '\(text.prefix(16))' is not http or https")
        }
        guard let first = bytes.dropFirst(schemeLength + 3).first,
            first != UInt8(ascii: "/"), first != UInt8(ascii: "?"), first != UInt8(ascii: "#")
        else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL has no host")
        }
    }

    /// The number of bytes before the first `://`, or `nil` when there is none.
    private static func schemeLength(_ bytes: String.UTF8View) -> Int? {
        var matched = 0  // how many bytes of "://" end at the current one
        for (offset, byte) in bytes.enumerated() {
            switch (matched, byte) {
            case (1, UInt8(ascii: "/")): matched = 2
            case (2, UInt8(ascii: "/")): return offset - 2
            case (_, UInt8(ascii: ":")): matched = 1
            default: matched = 0
            }
        }
        return nil
    }

    /// RFC 9110 `token`.
    static func isToken(_ string: String) -> Bool {
        !string.isEmpty
            && string.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }

    /// A field value: visible characters, spaces and tabs, and non-ASCII bytes; no CR, LF, NUL or other controls.
    static func isFieldValue(_ string: String) -> Bool {
        string.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
