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
    static func validateURL(_ url: String) throws(HTTPClientError) {
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL holds whitespace or a control character")
        }
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL has no scheme")
        }
        let scheme = url[url.startIndex..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw HTTPClientError(code: .unsupportedScheme, detail: "scheme '\(scheme.prefix(16))' is not http or https")
        }
        let rest = url[schemeEnd.upperBound...]
        guard let first = rest.first, first != "/", first != "?", first != "#" else {
            throw HTTPClientError(code: .invalidURL, detail: "the URL has no host")
        }
    }

    /// RFC 9110 `token`.
    static func isToken(_ string: String) -> Bool {
        !string.isEmpty && string.utf8.allSatisfy { byte in
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
