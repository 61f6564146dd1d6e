public import Crypto
import Foundation

/// The AES-256 keys a deployment holds, by id, and which one new rows are written with.
///
/// Rotation adds a key and makes it the primary; older keys stay in the ring until no row uses them
/// (`asynctask keys rotate` re-encrypts pending rows to the primary). `description` lists ids only, never keys.
public struct KeyRing: Sendable, CustomStringConvertible {
    /// The id of the key new rows are encrypted with.
    public let primaryID: String
    /// The key new rows are encrypted with.
    public let primaryKey: SymmetricKey
    private let keys: [String: SymmetricKey]

    /// Creates a ring from keys that are already 256 bits.
    /// - Throws: `KeyRingError` naming the key id that is invalid, or the primary when it is not in `keys`.
    public init(primary: String, keys: [String: SymmetricKey]) throws(KeyRingError) {
        for (id, key) in keys {
            try Self.validate(id: id)
            guard key.bitCount == 256 else {
                throw KeyRingError(keyID: id, reason: "must be 32 bytes (AES-256), got \(key.bitCount / 8)")
            }
        }
        guard let primaryKey = keys[primary] else {
            throw KeyRingError(
                keyID: nil, reason: "the primary key id '\(primary)' is not among the keys (\(keys.keys.sorted().joined(separator: ", ")))")
        }
        self.primaryID = primary
        self.primaryKey = primaryKey
        self.keys = keys
    }

    /// Creates a ring from base64 text, as keys appear in config files and environment variables.
    /// - Throws: `KeyRingError` naming the key id whose text is not base64 of exactly 32 bytes (never the text).
    public init(primary: String, base64Keys: [String: String]) throws(KeyRingError) {
        var keys: [String: SymmetricKey] = [:]
        for (id, text) in base64Keys {
            try Self.validate(id: id)
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw KeyRingError(keyID: id, reason: "is empty (is its environment variable set?)") }
            guard let bytes = Data(base64Encoded: trimmed) else {
                throw KeyRingError(keyID: id, reason: "is not base64 (generate one with `openssl rand -base64 32`)")
            }
            guard bytes.count == 32 else {
                throw KeyRingError(keyID: id, reason: "must be base64 of 32 bytes (AES-256), got \(bytes.count) bytes")
            }
            keys[id] = SymmetricKey(data: bytes)
        }
        try self.init(primary: primary, keys: keys)
    }

    /// The key with this id, if the ring has it.
    public func key(_ id: String) -> SymmetricKey? { keys[id] }

    /// Every key id, sorted.
    public var keyIDs: [String] { keys.keys.sorted() }

    public var description: String { "KeyRing(primary: \(primaryID), keys: \(keyIDs.joined(separator: ", ")))" }

    /// Key ids appear in the `encryptor` column after `aes-256-gcm:` and as config keys (`encryption.keys.<id>`),
    /// so they are kept to letters, digits, `_` and `-`.
    public static func validate(id: String) throws(KeyRingError) {
        guard !id.isEmpty, id.utf8.count <= 64 else {
            throw KeyRingError(keyID: id, reason: "a key id must be 1 to 64 characters")
        }
        guard id.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }) else {
            throw KeyRingError(keyID: id, reason: "a key id may hold only letters, digits, '_' and '-'")
        }
    }
}

/// A key ring that cannot be built, naming the key id at fault (nil when the problem is the primary).
public struct KeyRingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key id at fault; nil when the primary is missing or unknown.
    public let keyID: String?
    /// What is wrong (never the key material).
    public let reason: String

    /// Creates the error.
    public init(keyID: String?, reason: String) {
        self.keyID = keyID
        self.reason = reason
    }

    public var description: String {
        if let keyID { "encryption key '\(keyID)': \(reason)" } else { "encryption: \(reason)" }
    }
}
