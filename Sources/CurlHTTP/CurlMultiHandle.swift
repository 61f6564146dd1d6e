import CCurl
import CCurlShims

/// Owns one `CURLM*`, cleaned up in `deinit`. Used only on the engine thread, except the
/// raw handle that the engine's shared state keeps for `curl_multi_wakeup` while the thread runs.
final class CurlMultiHandle {
    let handle: UnsafeMutableRawPointer

    /// - Returns: `nil` when libcurl cannot allocate a multi handle.
    init?() {
        guard let handle = curl_multi_init() else { return nil }
        self.handle = handle
    }

    deinit {
        curl_multi_cleanup(handle)
    }

    /// Applies a long-valued option; failures are returned, not thrown, since the caller only logs them.
    @discardableResult
    func set(_ option: CURLMoption, _ value: Int) -> CURLMcode {
        ccurl_multi_setopt_long(handle, option, value)
    }
}
