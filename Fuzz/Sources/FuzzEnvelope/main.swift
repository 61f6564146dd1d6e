import AsyncTask
import Foundation
import FuzzSupport

/// What every input is checked against (static, so nonisolated code may read it).
enum Fixture {
    /// A fixed key ring (k1 primary, k2 older): the corpus's valid envelopes were sealed with these keys for target
    /// `orders`, method `charge` (Fuzz/Corpus/FuzzEnvelope/valid-*).
    static let ring = try! KeyRing(primary: "k1", base64Keys: [
        "k1": Data(repeating: 0x11, count: 32).base64EncodedString(),
        "k2": Data(repeating: 0x22, count: 32).base64EncodedString(),
    ])
    static let encryptor = AESGCMEncryptor(keyRing: ring)
    static let target = "orders"
    static let method = "charge"
}

/// Stored `method_args` → an envelope or a malformed-envelope error; an envelope re-encodes to one that parses to
/// the same value; opening either succeeds with a JSON object or fails with an error naming the encryptor; and a
/// JSON object input seals and opens back to itself, but not for another method.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let stored = Data(FuzzCheck.bytes(data, size))
    let shown = String(decoding: stored, as: UTF8.self)
    let label = AESGCMEncryptor.encryptorID(keyID: "k1")
    do {
        let envelope = try ArgumentsEnvelope(parsing: stored, encryptor: label)
        FuzzCheck.require(envelope.nonce.count == ArgumentsEnvelope.nonceLength, "a parsed nonce is 12 bytes", input: shown)
        FuzzCheck.require(envelope.ciphertextAndTag.count >= ArgumentsEnvelope.tagLength, "a parsed ct holds the tag", input: shown)
        let again = Result { () throws(EncryptionError) in try ArgumentsEnvelope(parsing: envelope.encoded(), encryptor: label) }
        FuzzCheck.require((try? again.get()) == envelope, "an envelope re-encodes to itself (got \(again))", input: shown)
    } catch {
        FuzzCheck.require(error.encryptor == label, "the error names the encryptor", input: shown)
        guard case .malformedEnvelope(let reason) = error.code else {
            FuzzCheck.require(false, "parsing fails only as a malformed envelope (got \(error.code))", input: shown)
            return 0
        }
        FuzzCheck.require(!reason.isEmpty, "a malformed envelope says which field", input: shown)
    }
    for keyID in ["k1", "k2"] {
        let id = AESGCMEncryptor.encryptorID(keyID: keyID)
        do {
            let plaintext = try Fixture.encryptor.decrypt(stored, id: id, target: Fixture.target, method: Fixture.method)
            FuzzCheck.require((try? JSONSerialization.jsonObject(with: plaintext)) is [String: Any], "a decrypted payload is a JSON object", input: shown)
        } catch {
            FuzzCheck.require(error.encryptor == id, "a decrypt error names the row's encryptor", input: shown)
        }
    }
    if (try? JSONSerialization.jsonObject(with: stored)) is [String: Any] {
        do {
            let sealed = try Fixture.encryptor.encrypt(stored, target: Fixture.target, method: Fixture.method)
            let opened = try Fixture.encryptor.decrypt(sealed, id: label, target: Fixture.target, method: Fixture.method)
            FuzzCheck.require(opened == stored, "seal then open gives the input back", input: shown)
            let moved = Result { () throws(EncryptionError) in try Fixture.encryptor.decrypt(sealed, id: label, target: Fixture.target, method: "refund") }
            FuzzCheck.require((try? moved.get()) == nil, "an envelope does not open for another method", input: shown)
        } catch {
            FuzzCheck.require(false, "a JSON object seals and opens (\(error))", input: shown)
        }
    }
    return 0
}

FuzzDriver.run(fuzzEnvelope)
