/// The `encryption` block as read (`encryption.primary`, `encryption.keys.<id>`), before `KeyRing` checks the
/// keys and that the primary is one of them.
struct RawKeyRing: ConfigurationSection {
    /// `encryption.primary`.
    var primary: String?
    /// `encryption.keys.<id>`: base64 text by key id.
    var keys: [String: String] = [:]

    static var defaults: RawKeyRing { RawKeyRing() }
}
