import CCurl

/// Owns one `curl_slist` of request header lines, freed in `deinit`. Confined to the engine thread.
final class CurlHeaderList {
    private(set) var head: UnsafeMutablePointer<curl_slist>?

    init() {}

    deinit {
        curl_slist_free_all(head)
    }

    /// Appends one `Name: value` line (libcurl copies it).
    /// - Returns: `false` when libcurl could not allocate.
    func append(_ line: String) -> Bool {
        guard let newHead = line.withCString({ curl_slist_append(head, $0) }) else { return false }
        head = newHead
        return true
    }
}
