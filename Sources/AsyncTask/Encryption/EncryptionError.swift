/// Why arguments could not be encrypted or decrypted, naming the scheme and key id (the row's `encryptor`
/// value) and never the plaintext or a key, so it is safe in logs, `last_error`, the webhook and the admin API.
public struct EncryptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Hashable {
        /// The node has no encryption keys at all.
        case noKeysConfigured
        /// The `encryptor` value names a scheme this build does not know (only `aes-256-gcm` exists).
        case unknownScheme
        /// The key id is not in this key ring.
        case unknownKey(String)
        /// The stored `method_args` is not a valid envelope; the text says which field is wrong.
        case malformedEnvelope(String)
        /// The envelope's `kid` differs from the key id in the `encryptor` column.
        case keyIDMismatch(envelope: String)
        /// The ciphertext did not authenticate: tampered, moved to another target/method, or the wrong key.
        case authenticationFailed
        /// The decrypted arguments are not a JSON object.
        case notAJSONObject
        /// Sealing failed (the system's random source or the cipher reported an error).
        case sealFailed(String)
    }

    /// The `encryptor` column value involved (`aes-256-gcm:k2`).
    public let encryptor: String
    /// What went wrong.
    public let code: Code

    /// Creates the error.
    public init(encryptor: String, code: Code) {
        self.encryptor = encryptor
        self.code = code
    }

    public var description: String {
        switch code {
        case .noKeysConfigured:
            "encryptor '\(encryptor)': no encryption keys are configured on this node"
        case .unknownScheme:
            "encryptor '\(encryptor)': unknown scheme (supported: \(AESGCMEncryptor.scheme):<key id>)"
        case .unknownKey(let keyID):
            "encryptor '\(encryptor)': key id '\(keyID)' is not in this node's key ring"
        case .malformedEnvelope(let reason):
            "encryptor '\(encryptor)': method_args is not a valid envelope: \(reason)"
        case .keyIDMismatch(let envelope):
            "encryptor '\(encryptor)': the envelope's kid '\(envelope)' does not match the key id in the encryptor column"
        case .authenticationFailed:
            "encryptor '\(encryptor)': ciphertext failed authentication (tampered, moved to another target or method, or encrypted with a different key under the same id)"
        case .notAJSONObject:
            "encryptor '\(encryptor)': the decrypted arguments are not a JSON object"
        case .sealFailed(let reason):
            "encryptor '\(encryptor)': encryption failed: \(reason)"
        }
    }
}
