public import Foundation

/// Encrypts `method_args` on the producer side and decrypts them on the worker side (DESIGN §6).
///
/// An encryptor turns the arguments' JSON into what is stored in `method_args` (itself a JSON object, because
/// the column is `jsonb` with an object check) and names itself in the row's `encryptor` column, so a node
/// knows which scheme and key to open the row with. The row's `target` and `method_name` are passed to both
/// directions so a scheme can bind the ciphertext to them (an envelope cannot be moved to another row's target).
public protocol Encryptor: Sendable {
    /// The `encryptor` column value for rows this encryptor writes now (`aes-256-gcm:k2`); nil stores plaintext.
    var id: String? { get }

    /// Encrypts `arguments` (UTF-8 JSON of an object) for a row of `target`.`method`.
    /// - Returns: the text to store in `method_args`: a JSON object.
    /// - Throws: `EncryptionError` when the arguments cannot be sealed.
    func encrypt(_ arguments: Data, target: String, method: String) throws(EncryptionError) -> Data

    /// Decrypts a row's stored `method_args`, written under the `encryptor` column value `id`.
    /// - Returns: the plaintext arguments (UTF-8 JSON of an object).
    /// - Throws: `EncryptionError` naming the scheme or key id, never the plaintext or a key.
    func decrypt(_ stored: Data, id: String, target: String, method: String) throws(EncryptionError) -> Data
}

/// The default encryptor: arguments are stored as they are, and rows that name an encryptor cannot be opened.
public struct NullEncryptor: Encryptor {
    /// Creates the plaintext encryptor.
    public init() {}

    /// Always nil: rows are written in plaintext.
    public var id: String? { nil }

    /// Returns `arguments` unchanged.
    public func encrypt(_ arguments: Data, target: String, method: String) throws(EncryptionError) -> Data {
        arguments
    }

    /// Always throws: a row with an `encryptor` needs a node that has keys.
    public func decrypt(_ stored: Data, id: String, target: String, method: String) throws(EncryptionError) -> Data {
        throw EncryptionError(encryptor: id, code: .noKeysConfigured)
    }
}
