/// TLS settings of one request: whom to trust and which client certificate to present.
///
/// Verification of the server certificate and host name is on unless `insecureSkipVerify`
/// is set; without `caFile` the system trust store is used.
public struct TLSOptions: Sendable, Hashable {
    /// PEM file of CA certificates to trust instead of the system store, or `nil`.
    public var caFile: String?
    /// PEM client certificate for mutual TLS, or `nil`.
    public var certFile: String?
    /// PEM private key of `certFile`, or `nil` when the key is inside `certFile`.
    public var keyFile: String?
    /// Turns off verification of the server certificate and host name. For tests only.
    public var insecureSkipVerify: Bool

    /// Creates TLS options; the defaults verify the server against the system trust store.
    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}
