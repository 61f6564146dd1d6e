import CCurl
import CCurlShims

/// Owns one `CURL*`, cleaned up in `deinit`. Confined to the engine thread.
///
/// Reused across requests to spare an allocation and libcurl's per-handle setup on every call;
/// connections live in the multi handle's cache either way. A handle that ran a request
/// successfully keeps that request's options (``configuration``), so that a request that differs
/// only in its header lines or body needs no `curl_easy_reset`, only those two options set again.
final class CurlEasyHandle {
    let handle: UnsafeMutableRawPointer
    /// libcurl's `CURLOPT_ERRORBUFFER` (`CURL_ERROR_SIZE` bytes): written by libcurl during a
    /// transfer, read after it ends. Lives as long as the handle, so it outlives every use.
    let errorBuffer: UnsafeMutablePointer<CChar>
    /// The request whose options the handle holds, or `nil` after a reset.
    var configuration: EasyConfiguration?
    /// The `CURLOPT_HTTPHEADER` list of ``configuration``; libcurl points into it until the next reset.
    var headerList: CurlHeaderList?

    /// - Returns: `nil` when libcurl cannot allocate an easy handle.
    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(handle)
        // After cleanup libcurl holds no pointer to the buffer (nor to the header list, freed next).
        errorBuffer.deallocate()
    }

    /// Clears every option so that no pointer into a finished transfer survives, and forgets
    /// the configuration.
    func reset() {
        curl_easy_reset(handle)
        configuration = nil
        headerList = nil
    }

    func set(_ option: CURLoption, _ value: Int) throws(HTTPClientError) {
        try Self.check(ccurl_easy_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, offset value: Int64) throws(HTTPClientError) {
        try Self.check(ccurl_easy_setopt_off_t(handle, option, curl_off_t(value)), option)
    }

    /// libcurl copies the string before returning.
    func set(_ option: CURLoption, _ value: String) throws(HTTPClientError) {
        let code = value.withCString { ccurl_easy_setopt_string(handle, option, $0) }
        try Self.check(code, option)
    }

    /// The pointee must stay valid until the handle is reset or cleaned up.
    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(HTTPClientError) {
        try Self.check(ccurl_easy_setopt_pointer(handle, option, value), option)
    }

    /// The list must stay valid until the handle is reset or cleaned up.
    func set(_ option: CURLoption, list: CurlHeaderList) throws(HTTPClientError) {
        try Self.check(ccurl_easy_setopt_slist(handle, option, list.head), option)
    }

    func set(_ option: CURLoption, callback: curl_write_callback) throws(HTTPClientError) {
        try Self.check(ccurl_easy_setopt_write_callback(handle, option, callback), option)
    }

    func info(_ info: CURLINFO) -> Int {
        var value = 0
        return ccurl_easy_getinfo_long(handle, info, &value) == CURLE_OK ? value : 0
    }

    func info(offset info: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        return ccurl_easy_getinfo_off_t(handle, info, &value) == CURLE_OK ? Int64(value) : 0
    }

    func infoPointer(_ info: CURLINFO) -> UnsafeMutableRawPointer? {
        var value: UnsafeMutableRawPointer?
        return ccurl_easy_getinfo_pointer(handle, info, &value) == CURLE_OK ? value : nil
    }

    private static func check(_ code: CURLcode, _ option: CURLoption) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        let text = String(cString: curl_easy_strerror(code))
        throw HTTPClientError(
            code: code == CURLE_NOT_BUILT_IN || code == CURLE_UNKNOWN_OPTION ? .invalidRequest : .other,
            curlCode: Int(code.rawValue),
            detail: "libcurl refused option \(option.rawValue): \(text)"
        )
    }
}
