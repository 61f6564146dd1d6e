import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// A random base64 AES-256 key.
func randomKey() -> String {
    Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
}

@Suite("Encrypted method_args: envelope, key ring, enqueue, rotation")
struct EncryptionTests {
    static let secret = #"{"card":"4111-SECRET-1111","order_number":7355608}"#

    let k1 = randomKey(), k2 = randomKey()

    func encryptor(primary: String = "k2", keys: [String: String]? = nil) throws -> AESGCMEncryptor {
        AESGCMEncryptor(keyRing: try KeyRing(primary: primary, base64Keys: keys ?? ["k1": k1, "k2": k2]))
    }

    /// The stored envelope as a mutable JSON object.
    func envelope(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("round trip: the envelope is v1 JSON with a 12-byte nonce, fresh per row, and decrypts to the arguments")
    func roundTrip() throws {
        let encryptor = try encryptor()
        #expect(encryptor.id == "aes-256-gcm:k2")
        let plaintext = Data(Self.secret.utf8)
        let first = try encryptor.encrypt(plaintext, target: "OrderClient", method: "fulfill")
        let second = try encryptor.encrypt(plaintext, target: "OrderClient", method: "fulfill")
        #expect(!String(decoding: first, as: UTF8.self).contains("SECRET"))
        let object = try envelope(first)
        #expect(object["v"] as? Int == 1)
        #expect(object["alg"] as? String == "aes-256-gcm")
        #expect(object["kid"] as? String == "k2")
        let nonce = try #require(Data(base64Encoded: object["nonce"] as? String ?? ""))
        #expect(nonce.count == 12)
        let ct = try #require(Data(base64Encoded: object["ct"] as? String ?? ""))
        #expect(ct.count == plaintext.count + 16)
        #expect(try self.envelope(second)["nonce"] as? String != object["nonce"] as? String, "a nonce was reused")
        #expect(try encryptor.decrypt(first, id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill") == plaintext)
        #expect(try encryptor.decrypt(second, id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill") == plaintext)
        // PostgreSQL prints jsonb with its own key order and spacing; that parses too.
        let reordered = Data(#"{"v": 1, "ct": "\#(object["ct"]!)", "alg": "aes-256-gcm", "kid": "k2", "nonce": "\#(object["nonce"]!)"}"#.utf8)
        #expect(try encryptor.decrypt(reordered, id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill") == plaintext)
        // An older key in the ring still opens its rows.
        let old = try self.encryptor(primary: "k1").encrypt(plaintext, target: "OrderClient", method: "fulfill")
        #expect(try encryptor.decrypt(old, id: "aes-256-gcm:k1", target: "OrderClient", method: "fulfill") == plaintext)
    }

    @Test("tampered ciphertext, tag or nonce, another target or method, or another key under the same id fail authentication")
    func tampering() throws {
        let encryptor = try encryptor()
        let sealed = try encryptor.encrypt(Data(Self.secret.utf8), target: "OrderClient", method: "fulfill")
        let object = try envelope(sealed)
        func variant(_ field: String, flipping index: Int) throws -> Data {
            var bytes = try #require(Data(base64Encoded: object[field] as? String ?? ""))
            let position = index < 0 ? bytes.count + index : index
            bytes[position] ^= 0x01
            var copy = object
            copy[field] = bytes.base64EncodedString()
            return try JSONSerialization.data(withJSONObject: copy)
        }
        let cases: [(String, Data, String, String)] = [
            ("ciphertext byte", try variant("ct", flipping: 0), "OrderClient", "fulfill"),
            ("tag byte", try variant("ct", flipping: -1), "OrderClient", "fulfill"),
            ("nonce byte", try variant("nonce", flipping: 3), "OrderClient", "fulfill"),
            ("moved to another target", sealed, "BillingClient", "fulfill"),
            ("moved to another method", sealed, "OrderClient", "cancel"),
        ]
        for (label, data, target, method) in cases {
            let error = #expect(throws: EncryptionError.self, "\(label)") {
                try encryptor.decrypt(data, id: "aes-256-gcm:k2", target: target, method: method)
            }
            #expect(error?.code == .authenticationFailed, "\(label)")
            #expect(error?.description.contains("aes-256-gcm:k2") == true)
            #expect(error?.description.contains("SECRET") == false)
        }
        let impostor = try self.encryptor(keys: ["k1": k1, "k2": randomKey()])
        #expect(
            (#expect(throws: EncryptionError.self) {
                try impostor.decrypt(sealed, id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill")
            })?.code == .authenticationFailed)
    }

    @Test("unknown key id, unknown scheme, mismatched kid, malformed envelope and a node without keys are errors naming the encryptor")
    func undecryptable() throws {
        let encryptor = try encryptor()
        let sealed = try encryptor.encrypt(Data(Self.secret.utf8), target: "OrderClient", method: "fulfill")
        let unknown = #expect(throws: EncryptionError.self) {
            try encryptor.decrypt(sealed, id: "aes-256-gcm:k9", target: "OrderClient", method: "fulfill")
        }
        #expect(unknown?.code == .unknownKey("k9"))
        #expect(unknown?.description.contains("'k9'") == true)
        #expect(
            (#expect(throws: EncryptionError.self) {
                try encryptor.decrypt(sealed, id: "rot13:k2", target: "OrderClient", method: "fulfill")
            })?.code == .unknownScheme)
        #expect(
            (#expect(throws: EncryptionError.self) {
                try encryptor.decrypt(sealed, id: "aes-256-gcm:k1", target: "OrderClient", method: "fulfill")
            })?.code == .keyIDMismatch(envelope: "k2"))
        for garbage in [
            #"{"v":1,"ct":"garbage"}"#, #"{"v":2,"alg":"aes-256-gcm","kid":"k2","nonce":"AAAAAAAAAAAAAAAA","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}"#, "[1]",
        ] {
            let error = #expect(throws: EncryptionError.self) {
                try encryptor.decrypt(Data(garbage.utf8), id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill")
            }
            guard case .malformedEnvelope = error?.code else {
                Issue.record("\(garbage): expected a malformed envelope, got \(String(describing: error))")
                continue
            }
        }
        #expect(
            (#expect(throws: EncryptionError.self) {
                try NullEncryptor().decrypt(sealed, id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill")
            })?.code == .noKeysConfigured)
        #expect(NullEncryptor().id == nil)
    }

    @Test("key rings reject keys that are not base64 of 32 bytes, bad ids and an unknown primary, naming the key id")
    func keyRingValidation() {
        let cases: [(String, [String: String], String?, String)] = [
            ("k1", ["k1": "not base64!"], "k1", "not base64"),
            ("k1", ["k1": Data(count: 16).base64EncodedString()], "k1", "got 16 bytes"),
            ("k1", ["k1": ""], "k1", "empty"),
            ("k1:x", ["k1:x": randomKey()], "k1:x", "letters, digits"),
            ("k3", ["k1": randomKey()], nil, "'k3' is not among the keys"),
        ]
        for (primary, keys, keyID, reason) in cases {
            let error = #expect(throws: KeyRingError.self) { try KeyRing(primary: primary, base64Keys: keys) }
            #expect(error?.keyID == keyID)
            #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
            if let value = keys.values.first, !value.isEmpty { #expect(error?.description.contains(value) == false) }
        }
        let ring = try? KeyRing(primary: "k2", base64Keys: ["k1": randomKey(), "k2": randomKey()])
        #expect(ring?.keyIDs == ["k1", "k2"])
        #expect(ring?.description == "KeyRing(primary: k2, keys: k1, k2)")
    }

    @Test("enqueue (one and a batch) stores envelopes marked aes-256-gcm:<primary>; no plaintext in the row")
    func encryptedEnqueue() async throws {
        let encryptor = try encryptor()
        try await withMigratedDatabase { _, connection in
            let queue = AttemptQueue(encryptor: encryptor)
            let attempt = try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(Self.secret.utf8), idempotenceToken: "order-1")
            let id = try await connection.withTransaction { try await queue.enqueue(attempt, on: $0) }
            #expect(try await connection.withTransaction { try await queue.enqueue(attempt, on: $0) } == id, "idempotence still holds")
            let batch = try (0..<3).map { n in
                try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"card":"SECRET","order_number":\#(n)}"#.utf8))
            }
            let ids = try await connection.withTransaction { try await queue.enqueue(batch, on: $0) }
            let plain = try await AttemptQueue().enqueue(
                try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data("{}".utf8)), on: connection)
            for (index, rowID) in ([id] + ids).enumerated() {
                let record = try #require(try await AttemptActions().find(rowID, on: connection))
                #expect(record.encryptor == "aes-256-gcm:k2")
                #expect(!record.methodArgs.contains("SECRET"))
                let opened = try encryptor.decrypt(Data(record.methodArgs.utf8), id: "aes-256-gcm:k2", target: "OrderClient", method: "fulfill")
                let args = try #require(try JSONSerialization.jsonObject(with: opened) as? [String: Any])
                #expect(args["order_number"] as? Int == (index == 0 ? 7_355_608 : index - 1))
            }
            #expect(try await AttemptActions().find(plain, on: connection)?.encryptor == nil)
        }
    }

    @Test("rotation moves pending rows to the primary key, leaves finished and plaintext rows, and reports rows it cannot open")
    func rotation() async throws {
        let old = try encryptor(primary: "k1")
        let new = try encryptor(primary: "k2")
        try await withMigratedDatabase { _, connection in
            let attempts = try (0..<25).map { n in
                try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"order_number":\#(n)}"#.utf8))
            }
            let ids = try await AttemptQueue(encryptor: old).enqueue(attempts, on: connection)
            let plain = try await AttemptQueue().enqueue(attempts[0], on: connection)
            try await AttemptActions().fail(ids[0], on: connection)
            let foreign = try await AttemptQueue(encryptor: try encryptor(primary: "k9", keys: ["k9": randomKey()])).enqueue(
                attempts[1], on: connection)
            var progress: [Int] = []
            let summary = try await KeyRotation(encryptor: new, batchSize: 10).run(on: connection) { progress.append($0.rotated) }
            #expect(summary.rotated == 24)
            #expect(summary.batches == 3)
            #expect(progress == [10, 20, 24])
            #expect(summary.failures.map(\.id) == [foreign])
            #expect(summary.failures.first?.error.code == .unknownKey("k9"))
            #expect(summary.remaining == 0)
            for (index, id) in ids.enumerated() {
                let record = try #require(try await AttemptActions().find(id, on: connection))
                #expect(record.encryptor == (index == 0 ? "aes-256-gcm:k1" : "aes-256-gcm:k2"))
                let opened = try new.decrypt(
                    Data(record.methodArgs.utf8), id: try #require(record.encryptor), target: "OrderClient", method: "fulfill")
                #expect(opened == Data(#"{"order_number":\#(index)}"#.utf8))
            }
            #expect(try await AttemptActions().find(plain, on: connection)?.encryptor == nil)
            // A second run has nothing left to do.
            let again = try await KeyRotation(encryptor: new, batchSize: 10).run(on: connection)
            #expect(again.rotated == 0 && again.failures.map(\.id) == [foreign])
        }
    }
}
