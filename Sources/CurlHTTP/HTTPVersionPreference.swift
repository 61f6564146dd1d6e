/// Which HTTP version a request may use.
public enum HTTPVersionPreference: Sendable, Hashable {
    /// HTTP/2 over TLS when the server offers it through ALPN, HTTP/1.1 otherwise (and always for `http`).
    case negotiate
    /// HTTP/1.1 only.
    case http1_1
    /// HTTP/2 without negotiation, also over cleartext (h2c "prior knowledge"); the server must speak it.
    case http2PriorKnowledge
}
