public import Foundation

/// The stored form of encrypted `method_args`, version 1: a JSON object, so it fits the `jsonb` object column.
///
/// ```json
/// {"v":1,"alg":"aes-256-gcm","kid":"k2","nonce":"<base64, 12 bytes>","ct":"<base64, ciphertext || 16-byte tag>"}
/// ```
///
/// Base64 is the standard alphabet with padding (RFC 4648 §4). The associated data is
/// `additionalData(target:method:)`. The README's "Encrypted arguments" section documents this for producers in
/// other languages; changing it means a new `v`, never an edit of version 1.
public struct ArgumentsEnvelope: Sendable, Hashable {
    /// The format version this build writes and reads.
    public static let version = 1
    /// AES-GCM nonce length in bytes (96 bits).
    public static let nonceLength = 12
    /// AES-GCM tag length in bytes, appended to the ciphertext in `ct`.
    public static let tagLength = 16

    /// The algorithm (`aes-256-gcm`).
    public let algorithm: String
    /// The key id; equal to the id after `aes-256-gcm:` in the row's `encryptor` column.
    public let keyID: String
    /// The 12-byte nonce.
    public let nonce: Data
    /// The ciphertext followed by the 16-byte authentication tag.
    public let ciphertextAndTag: Data

    /// Creates an envelope from its parts.
    public init(algorithm: String, keyID: String, nonce: Data, ciphertextAndTag: Data) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.nonce = nonce
        self.ciphertextAndTag = ciphertextAndTag
    }

    /// The authenticated data that binds an envelope to its row: the UTF-8 bytes of
    /// `asynctask:v1` NUL `<target>` NUL `<method_name>`. PostgreSQL text can never hold NUL, so the encoding is
    /// unambiguous, and an envelope copied to a row of another target or method fails authentication.
    public static func additionalData(target: String, method: String) -> Data {
        var data = Data("asynctask:v1".utf8)
        data.append(0)
        data.append(contentsOf: Array(target.utf8))
        data.append(0)
        data.append(contentsOf: Array(method.utf8))
        return data
    }

    /// The JSON object text to store in `method_args`.
    public func encoded() -> Data {
        let object: [String: Any] = [
            "v": Self.version, "alg": algorithm, "kid": keyID,
            "nonce": nonce.base64EncodedString(), "ct": ciphertextAndTag.base64EncodedString(),
        ]
        // Strings and an integer always serialize; the fallback is unreachable.
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    /// Parses stored `method_args` (as PostgreSQL prints the jsonb: any key order and spacing).
    /// - Throws: `EncryptionError` with `.malformedEnvelope` naming the field; `encryptor` labels the error.
    public init(parsing stored: Data, encryptor: String) throws(EncryptionError) {
        func malformed(_ reason: String) -> EncryptionError { EncryptionError(encryptor: encryptor, code: .malformedEnvelope(reason)) }
        guard let object = (try? JSONSerialization.jsonObject(with: stored)) as? [String: Any] else {
            throw malformed("not a JSON object")
        }
        guard let version = object["v"] as? NSNumber, version.intValue == Self.version, version.doubleValue == Double(Self.version) else {
            throw malformed("\"v\" must be \(Self.version)")
        }
        guard let algorithm = object["alg"] as? String else { throw malformed("\"alg\" is missing") }
        guard let keyID = object["kid"] as? String else { throw malformed("\"kid\" is missing") }
        guard let nonceText = object["nonce"] as? String, let nonce = Data(base64Encoded: nonceText) else {
            throw malformed("\"nonce\" is missing or not base64")
        }
        guard nonce.count == Self.nonceLength else {
            throw malformed("\"nonce\" must be \(Self.nonceLength) bytes, got \(nonce.count)")
        }
        guard let ciphertextText = object["ct"] as? String, let ciphertext = Data(base64Encoded: ciphertextText) else {
            throw malformed("\"ct\" is missing or not base64")
        }
        guard ciphertext.count >= Self.tagLength else {
            throw malformed("\"ct\" is shorter than the \(Self.tagLength)-byte tag")
        }
        self.init(algorithm: algorithm, keyID: keyID, nonce: nonce, ciphertextAndTag: ciphertext)
    }
}
