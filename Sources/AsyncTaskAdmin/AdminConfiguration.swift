/// Where the admin server listens and who may act through it.
public struct AdminConfiguration: Sendable, Hashable {
    /// The address to bind, e.g. `127.0.0.1` (loopback by default: expose it deliberately).
    public var host: String
    /// The port; 0 picks a free one (the bound port is reported through `AdminServer`'s `onListening`).
    public var port: Int
    /// The bearer token mutating actions require; nil disables actions altogether.
    public var token: String?
    /// When set, the dashboard and the JSON API answer only requests that present it (or `token`) as a bearer
    /// token or a Basic-auth password; `/healthz`, `/readyz` and `/metrics` stay open for probes and scrapers.
    public var readToken: String?
    /// Heartbeats older than this make a node count as not live (the worker's `node.dead_after`).
    public var deadAfter: Duration
    /// Queue figures for `/metrics` are read from the database at most this often.
    public var metricsRefresh: Duration

    /// Creates a configuration; defaults `127.0.0.1:9090`, no tokens, 10 s dead-after, 1 s metrics refresh.
    public init(
        host: String = "127.0.0.1", port: Int = 9090, token: String? = nil, deadAfter: Duration = .seconds(10),
        metricsRefresh: Duration = .seconds(1), readToken: String? = nil
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.readToken = readToken
        self.deadAfter = deadAfter
        self.metricsRefresh = metricsRefresh
    }
}
