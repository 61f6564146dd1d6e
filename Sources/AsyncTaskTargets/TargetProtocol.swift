/// How a target is called (DESIGN §4).
public enum TargetProtocol: String, Sendable, Hashable, CaseIterable {
    /// `POST {url}/{method_name}` with the arguments as the JSON body.
    case http
    /// `POST {url}` with a JSON-RPC 2.0 envelope whose `id` is the attempt id.
    case jsonrpc
}
