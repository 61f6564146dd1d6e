extension HTTPEngine {
    /// What happens to requests still in flight when the engine is asked to stop.
    public enum ShutdownBehavior: Sendable, Hashable {
        /// Fail every in-flight request with ``HTTPClientError/Code/shutdown`` at once.
        case failInFlight
        /// Let in-flight requests finish for up to `grace`, then fail the rest with
        /// ``HTTPClientError/Code/shutdown``. New requests are refused from the start of the shutdown.
        case finishInFlight(grace: Duration)
    }

    /// Settings of one engine (one libcurl multi handle and its connection cache).
    public struct Configuration: Sendable {
        /// Most connections kept open to one host (`CURLMOPT_MAX_HOST_CONNECTIONS`); further
        /// requests to that host wait inside libcurl for a free connection. 0 means no limit.
        public var maxConnectionsPerHost: Int
        /// Most idle connections kept for reuse across all hosts (`CURLMOPT_MAXCONNECTS`).
        public var connectionCacheSize: Int
        /// Proxy URL for every request (e.g. `http://proxy:3128`), or `nil` for none. Proxy
        /// environment variables are ignored: a proxy is used only when configured here.
        public var proxy: String?
        /// The `User-Agent` sent when a request does not set one; `nil` sends none.
        public var userAgent: String?
        /// What happens to in-flight requests when the engine stops gracefully. Cancelling
        /// the engine's `run()` task always fails them at once.
        public var shutdownBehavior: ShutdownBehavior
        /// How many idle libcurl easy handles are kept for reuse between requests.
        public var maxIdleEasyHandles: Int
        /// Most transfers inside libcurl at once; further requests wait in the engine's own queue, taking
        /// turns by ``HTTPRequest/lane``, and their ``HTTPRequest/timeout`` runs while they wait. libcurl's
        /// work per turn of its loop grows with the transfers it holds, so a bound keeps each one cheap when
        /// thousands of calls are in flight. 0 means no limit.
        public var maxActiveTransfers: Int

        /// Creates a configuration; the defaults suit a worker node with a few hundred calls in flight.
        public init(
            maxConnectionsPerHost: Int = 256,
            connectionCacheSize: Int = 512,
            proxy: String? = nil,
            userAgent: String? = "AsyncTask",
            shutdownBehavior: ShutdownBehavior = .finishInFlight(grace: .seconds(10)),
            maxIdleEasyHandles: Int = 256,
            maxActiveTransfers: Int = 0
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.connectionCacheSize = connectionCacheSize
            self.proxy = proxy
            self.userAgent = userAgent
            self.shutdownBehavior = shutdownBehavior
            self.maxIdleEasyHandles = maxIdleEasyHandles
            self.maxActiveTransfers = maxActiveTransfers
        }
    }
}
