import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("enqueueReporting: created or existing, and whether a repeated token's arguments differ")
struct EnqueueReportingTests {
    func attempt(_ json: String, token: String = "order-100") throws -> Attempt {
        try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(json.utf8), idempotenceToken: token)
    }

    @Test("plaintext: new row created; same token with equal jsonb (other key order, spacing) is .same; other arguments .different")
    func plaintext() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            let first = try await queue.enqueueReporting(try attempt(#"{"order_number":100,"customer":"c_1"}"#), on: connection)
            #expect(first.created && first.arguments == nil)
            let same = try await queue.enqueueReporting(try attempt(#"{ "customer": "c_1", "order_number": 100.0 }"#), on: connection)
            #expect(same == EnqueueResult(id: first.id, created: false, arguments: .same))
            let different = try await queue.enqueueReporting(try attempt(#"{"order_number":999,"customer":"c_1"}"#), on: connection)
            #expect(different == EnqueueResult(id: first.id, created: false, arguments: .different))
            // The stored row keeps its own arguments.
            let stored = try await connection.query(
                PostgresStatement(name: "args", sql: "SELECT method_args->>'order_number' AS n FROM async_task_attempts WHERE id = $1"), [first.id]
            ).single()
            #expect(try stored.decode(String.self, "n") == "100")
            // The plain `enqueue` still returns the id alone.
            #expect(try await queue.enqueue(try attempt("{}"), on: connection) == first.id)
            let other = try await queue.enqueueReporting(try attempt("{}", token: "order-101"), on: connection)
            #expect(other.created && other.id != first.id)
        }
    }

    @Test("encrypted: compared after decrypting in the producer; a queue without the key says .notComparable")
    func encrypted() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue(encryptor: AESGCMEncryptor(keyRing: try KeyRing(primary: "k1", base64Keys: ["k1": randomKey()])))
            let first = try await queue.enqueueReporting(try attempt(#"{"card":"4111","order_number":100}"#), on: connection)
            #expect(first.created)
            #expect(try await queue.enqueueReporting(try attempt(#"{"order_number":100,"card":"4111"}"#), on: connection).arguments == .same)
            #expect(try await queue.enqueueReporting(try attempt(#"{"order_number":999,"card":"4111"}"#), on: connection).arguments == .different)
            let plain = try await AttemptQueue().enqueueReporting(try attempt(#"{"order_number":100}"#), on: connection)
            #expect(plain.id == first.id && !plain.created)
            guard case .notComparable(let reason) = plain.arguments else {
                Issue.record("expected .notComparable, got \(String(describing: plain.arguments))")
                return
            }
            #expect(reason.contains("aes-256-gcm:k1"))
            let otherKey = AttemptQueue(encryptor: AESGCMEncryptor(keyRing: try KeyRing(primary: "k9", base64Keys: ["k9": randomKey()])))
            guard case .notComparable = try await otherKey.enqueueReporting(try attempt("{}"), on: connection).arguments else {
                Issue.record("a queue with another key ring must not claim to compare")
                return
            }
            // A plaintext row seen by an encrypting queue is compared without sending its plaintext to the server.
            let row = try await AttemptQueue().enqueueReporting(try attempt(#"{"a":1}"#, token: "plain-1"), on: connection)
            #expect(
                try await queue.enqueueReporting(try attempt(#"{"a":1}"#, token: "plain-1"), on: connection)
                    == EnqueueResult(id: row.id, created: false, arguments: .same))
            #expect(try await queue.enqueueReporting(try attempt(#"{"a":2}"#, token: "plain-1"), on: connection).arguments == .different)
        }
    }
}
