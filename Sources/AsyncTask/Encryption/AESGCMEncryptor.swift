import Crypto
public import Foundation

/// AES-256-GCM with a random 96-bit nonce per row and a key ring (DESIGN §6).
///
/// New rows are sealed with the ring's primary key and marked `aes-256-gcm:<primary id>`; a row is opened with
/// the key its `encryptor` column names, so rows written before a rotation keep working while the old key is in
/// the ring. The ciphertext is bound to the row's target and method (`ArgumentsEnvelope.additionalData`).
public struct AESGCMEncryptor: Encryptor {
    /// The scheme part of the `encryptor` column (`aes-256-gcm:<key id>`) and the envelope's `alg`.
    public static let scheme = "aes-256-gcm"

    /// The keys.
    public let keyRing: KeyRing

    /// Creates an encryptor over `keyRing`.
    public init(keyRing: KeyRing) {
        self.keyRing = keyRing
    }

    /// `aes-256-gcm:<primary key id>`.
    public var id: String? { Self.encryptorID(keyID: keyRing.primaryID) }

    /// The `encryptor` column value for a key id.
    public static func encryptorID(keyID: String) -> String { "\(scheme):\(keyID)" }

    /// The key id in an `encryptor` column value, or nil when the value is not this scheme's.
    public static func keyID(fromEncryptorID id: String) -> String? {
        let prefix = scheme + ":"
        guard id.hasPrefix(prefix), id.count > prefix.count else { return nil }
        return String(id.dropFirst(prefix.count))
    }

    /// Seals `arguments` with the primary key into a version 1 envelope.
    public func encrypt(_ arguments: Data, target: String, method: String) throws(EncryptionError) -> Data {
        try encrypt(arguments, keyID: keyRing.primaryID, key: keyRing.primaryKey, target: target, method: method)
    }

    /// Opens a row written under `id` (`aes-256-gcm:<key id>`) with that key from the ring.
    public func decrypt(_ stored: Data, id: String, target: String, method: String) throws(EncryptionError) -> Data {
        guard let keyID = Self.keyID(fromEncryptorID: id) else {
            throw EncryptionError(encryptor: id, code: .unknownScheme)
        }
        guard let key = keyRing.key(keyID) else {
            throw EncryptionError(encryptor: id, code: .unknownKey(keyID))
        }
        let envelope = try ArgumentsEnvelope(parsing: stored, encryptor: id)
        guard envelope.algorithm == Self.scheme else {
            throw EncryptionError(encryptor: id, code: .malformedEnvelope("\"alg\" must be \"\(Self.scheme)\""))
        }
        guard envelope.keyID == keyID else {
            throw EncryptionError(encryptor: id, code: .keyIDMismatch(envelope: envelope.keyID))
        }
        let plaintext: Data
        do {
            let tagStart = envelope.ciphertextAndTag.count - ArgumentsEnvelope.tagLength
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: envelope.nonce),
                ciphertext: envelope.ciphertextAndTag.prefix(tagStart),
                tag: envelope.ciphertextAndTag.suffix(ArgumentsEnvelope.tagLength))
            plaintext = try AES.GCM.open(box, using: key, authenticating: ArgumentsEnvelope.additionalData(target: target, method: method))
        } catch {
            throw EncryptionError(encryptor: id, code: .authenticationFailed)
        }
        // The node sends the plaintext as the call's JSON body: it must be what an unencrypted row may hold.
        guard (try? JSONSerialization.jsonObject(with: plaintext)) is [String: Any] else {
            throw EncryptionError(encryptor: id, code: .notAJSONObject)
        }
        return plaintext
    }

    /// Re-encrypts a row's stored arguments with the primary key (key rotation): opens it with the key its
    /// `encryptor` value names and seals it again with a fresh nonce.
    /// - Returns: the new `method_args` and `encryptor` values.
    public func reencrypt(_ stored: Data, id: String, target: String, method: String) throws(EncryptionError) -> (methodArgs: Data, encryptor: String)
    {
        let plaintext = try decrypt(stored, id: id, target: target, method: method)
        let sealed = try encrypt(plaintext, target: target, method: method)
        return (sealed, Self.encryptorID(keyID: keyRing.primaryID))
    }

    private func encrypt(_ arguments: Data, keyID: String, key: SymmetricKey, target: String, method: String) throws(EncryptionError) -> Data {
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(
                arguments, using: key, nonce: AES.GCM.Nonce(), authenticating: ArgumentsEnvelope.additionalData(target: target, method: method))
        } catch {
            throw EncryptionError(encryptor: Self.encryptorID(keyID: keyID), code: .sealFailed(String(describing: error)))
        }
        let envelope = ArgumentsEnvelope(
            algorithm: Self.scheme, keyID: keyID, nonce: Data(box.nonce), ciphertextAndTag: box.ciphertext + box.tag)
        return envelope.encoded()
    }
}
