extension HTTPEngine {
    /// Counters of one engine, read from libcurl per finished transfer.
    public struct Statistics: Sendable, Hashable {
        /// Transfers that ended with an HTTP response (any status).
        public var responses: Int = 0
        /// Requests that ended with an ``HTTPClientError``.
        public var failures: Int = 0
        /// Connections opened, summed over transfers from `CURLINFO_NUM_CONNECTS`.
        public var connectionsOpened: Int = 0
        /// Responses whose transfer opened no connection: it reused a kept-alive one.
        public var connectionsReused: Int = 0
        /// Requests submitted and not yet finished (``queued`` among them).
        public var inFlight: Int = 0
        /// Requests waiting in the engine's queue for a transfer slot
        /// (``HTTPEngine/Configuration/maxActiveTransfers``), as of the engine thread's last publication.
        public var queued: Int = 0
        /// CPU time used so far by the engine's thread, when the engine runs and the platform tells.
        public var engineThreadCPUTime: Duration?

        /// Creates zeroed statistics.
        public init() {}
    }
}
