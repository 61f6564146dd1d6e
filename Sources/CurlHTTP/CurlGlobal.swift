import CCurl

/// libcurl's process-wide initialisation, done once.
enum CurlGlobal {
    /// The result of `curl_global_init`, run the first time this is read (Swift runs a global's
    /// initialiser exactly once, thread-safely).
    static let initResult: Int = {
        Int(curl_global_init(Int(CURL_GLOBAL_ALL)).rawValue)
    }()

    /// Whether libcurl initialised; otherwise every request fails.
    static var isInitialized: Bool {
        initResult == Int(CURLE_OK.rawValue)
    }
}
