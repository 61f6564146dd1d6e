/// The admin server could not listen on its address, named with the key that sets it, so an operator who
/// starts a second node on the same host knows what to change (bad configuration: the CLI exits 2).
public struct AdminListenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The host it tried.
    public let host: String
    /// The port it tried.
    public let port: Int
    /// Why: "is already in use", "cannot be assigned on this host", …
    public let problem: String

    /// Creates the error.
    public init(host: String, port: Int, problem: String) {
        self.host = host
        self.port = port
        self.problem = problem
    }

    /// `admin.listen 127.0.0.1:9090 is already in use; set admin.listen or ASYNCTASK_ADMIN_LISTEN`.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "admin.listen \(address) \(problem); set admin.listen or ASYNCTASK_ADMIN_LISTEN (another address, or off)"
    }
}
