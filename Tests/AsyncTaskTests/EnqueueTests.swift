import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Producer API: validation, idempotence, batches")
struct EnqueueTests {
    @Test(
        "invalid attempts are rejected naming the field",
        arguments: [
            ("", "fulfill", "{}", "target"),
            ("OrderClient", "", "{}", "method_name"),
            ("OrderClient", "fulfill", "[1,2]", "method_args"),
            ("OrderClient", "fulfill", "\"text\"", "method_args"),
            ("OrderClient", "fulfill", "{not json", "method_args"),
            ("Order\nClient", "fulfill", "{}", "target"),
            ("OrderClient", "fulfill", #"{"note":"a\u0000b"}"#, "method_args"),
            ("OrderClient", "fulfill", #"{"deep":[{"k\u0000":1}]}"#, "method_args"),
            // Method names the nodes would refuse (DESIGN §4: a row never steers a call to another path).
            ("OrderClient", "../admin", "{}", "method_name"),
            ("OrderClient", "a/b", "{}", "method_name"),
            ("OrderClient", "x?y", "{}", "method_name"),
            ("OrderClient", "a#b", "{}", "method_name"),
            ("OrderClient", "%2F", "{}", "method_name"),
            ("OrderClient", "ful fill", "{}", "method_name"),
            ("OrderClient", "fulfíll", "{}", "method_name"),
            ("OrderClient", String(repeating: "a", count: 129), "{}", "method_name"),
        ])
    func validation(target: String, method: String, json: String, field: String) {
        let error = #expect(throws: AttemptValidationError.self) {
            try Attempt(target: target, method: method, argumentsJSON: Data(json.utf8))
        }
        #expect(error?.field == field)
    }

    @Test("scheduled_at, max_attempts and tokens are validated")
    func validationOfOptionalFields() {
        #expect(
            (#expect(throws: AttemptValidationError.self) {
                try Attempt(target: "T", method: "m", argumentsJSON: Data("{}".utf8), scheduledAt: Date(timeIntervalSince1970: .nan))
            })?.field == "scheduled_at")
        #expect(
            (#expect(throws: AttemptValidationError.self) {
                try Attempt(target: "T", method: "m", argumentsJSON: Data("{}".utf8), maxAttempts: 0)
            })?.field == "max_attempts")
        #expect(
            (#expect(throws: AttemptValidationError.self) {
                try Attempt(target: "T", method: "m", argumentsJSON: Data("{}".utf8), idempotenceToken: "a\r\nInjected: header")
            })?.field == "idempotence_token")
    }

    @Test("8 concurrent enqueues of one token produce one row and all get its id")
    func concurrentIdempotence() async throws {
        try await withMigratedDatabase { database, connection throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 8))
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await pool.withTransaction { connection in
                            let attempt = try Attempt(
                                target: "OrderClient", method: "fulfill", arguments: FulfillArgs(customerToken: "c", orderNumber: index),
                                idempotenceToken: "order-42")
                            let id = try await AttemptQueue().enqueue(attempt, on: connection)
                            try await connection.query(PostgresStatement(name: "hold", sql: "SELECT pg_sleep(0.05)"))
                            return id
                        }
                    }
                }
                return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(try await connection.query(countAttempts).single().decode(Int.self, "n") == 1)
            // Same token on another method is a different attempt.
            let other = try await AttemptQueue().enqueue(
                try Attempt(target: "OrderClient", method: "refund", argumentsJSON: Data("{}".utf8), idempotenceToken: "order-42"), on: connection)
            #expect(!ids.contains(other))
            await pool.close()
        }
    }

    @Test("batch enqueue returns ids in input order, resolving duplicate tokens to the existing row")
    func batch() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            let existing = try await queue.enqueue(
                try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"n":0}"#.utf8), idempotenceToken: "dup"), on: connection)
            let tokens: [Int: String] = [3: "dup", 4: "t4", 5: "t4"]
            var attempts: [Attempt] = []
            for n in 1...5 {
                let json = Data("{\"n\":\(n)}".utf8)
                attempts.append(
                    try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: json, idempotenceToken: tokens[n], priority: Int16(n)))
            }
            let ids = try await connection.withTransaction { try await queue.enqueue(attempts, on: $0) }
            #expect(ids.count == 5)
            #expect(ids[2] == existing)
            #expect(ids[3] == ids[4])
            #expect(ids[0] < ids[1] && ids[1] < ids[3])
            for (index, id) in ids.enumerated() where index != 2 && index != 4 {
                let record = try #require(try await AttemptActions().find(id, on: connection))
                #expect(record.methodArgs == #"{"n": \#(index + 1)}"#)
                #expect(record.priority == index + 1)
            }
            #expect(try await connection.query(countAttempts).single().decode(Int.self, "n") == 4)
            // A large batch in one statement.
            let big = try (0..<5000).map { try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"i":\#($0)}"#.utf8)) }
            let bigIDs = try await connection.withTransaction { try await queue.enqueue(big, on: $0) }
            #expect(bigIDs.count == 5000)
            #expect(bigIDs == bigIDs.sorted())
            #expect(Set(bigIDs).count == 5000)
        }
    }
}

extension EnqueueTests {
    static let copiedRows = PostgresStatement(
        name: "copied_rows",
        sql: """
            SELECT id, method_args::text AS args, priority, max_attempts, scheduled_at, available_at, encryptor, status, num_attempts
            FROM async_task_attempts WHERE id = ANY($1::bigint[]) ORDER BY id
            """)

    @Test(
        "a large token-less batch goes through COPY: ids in input order, every column as given, scheduling applied, one NOTIFY, rolled back with the caller"
    )
    func copyBatch() async throws {
        struct Abort: Error {}
        try await withMigratedDatabase { database, connection throws in
            let later = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3600).rounded())
            var attempts: [Attempt] = []
            for n in 0..<300 {
                let json = Data(#"{"n":\#(n),"note":"tab\there, back\\slash, é"}"#.utf8)
                let scheduledAt: Date? = n % 3 == 0 ? later : nil
                let maxAttempts: Int? = n % 2 == 0 ? 7 : nil
                attempts.append(
                    try Attempt(
                        target: "OrderClient", method: "fulfill", argumentsJSON: json, scheduledAt: scheduledAt, priority: Int16(n % 5),
                        maxAttempts: maxAttempts))
            }
            var configuration = database.configuration
            configuration.set("application_name", "copy-listener")
            let listener = PostgresListener(configuration: configuration, channels: ["async_task_attempts"], reconnectDelayLimit: .milliseconds(200))
            let run = Task { await listener.run() }
            var events = listener.events.makeAsyncIterator()
            #expect(await events.next() == .listening)

            await #expect(throws: Abort.self) {
                try await connection.withTransaction { connection in
                    _ = try await AttemptQueue().enqueue(attempts, on: connection)
                    throw Abort()
                }
            }
            #expect(try await connection.query(countAttempts).single().decode(Int.self, "n") == 0)

            let ids = try await connection.withTransaction { try await AttemptQueue().enqueue(attempts, on: $0) }
            #expect(ids.count == 300)
            #expect(ids == ids.sorted() && Set(ids).count == 300)
            let rows = try await connection.query(Self.copiedRows, [ids])
            #expect(rows.count == 300)
            for (n, row) in rows.enumerated() {
                #expect(try row.decode(Int64.self, "id") == ids[n])
                #expect(try row.decode(String.self, "args") == #"{"n": \#(n), "note": "tab\there, back\\slash, é"}"#)
                #expect(try row.decode(Int.self, "priority") == n % 5)
                #expect(try row.decode(Int?.self, "max_attempts") == (n % 2 == 0 ? 7 : nil))
                #expect(try row.decode(String.self, "status") == "pending")
                #expect(try row.decode(Int.self, "num_attempts") == 0)
                #expect(try row.decode(String?.self, "encryptor") == nil)
                if n % 3 == 0 {
                    #expect(try row.decode(Date?.self, "scheduled_at") == later)
                    #expect(try row.decode(Date.self, "available_at") == later)
                } else {
                    #expect(try row.decode(Date?.self, "scheduled_at") == nil)
                    #expect(abs(try row.decode(Date.self, "available_at").timeIntervalSinceNow) < 60)
                }
            }
            // The committed COPY woke listeners once (the rolled-back one sent nothing).
            guard case .notification(let notification) = await events.next() else {
                Issue.record("no notification after the committed batch")
                return
            }
            #expect(notification.channel == "async_task_attempts")
            run.cancel()
            await run.value

            // Encrypted through COPY: envelopes marked with the key id, decrypting to each attempt's arguments.
            let ring = try KeyRing(primary: "k1", base64Keys: ["k1": Data((0..<32).map { UInt8($0) }).base64EncodedString()])
            let encryptor = AESGCMEncryptor(keyRing: ring)
            let secretIDs = try await connection.withTransaction { try await AttemptQueue(encryptor: encryptor).enqueue(attempts, on: $0) }
            for (n, id) in secretIDs.enumerated() {
                let record = try #require(try await AttemptActions().find(id, on: connection))
                #expect(record.encryptor == "aes-256-gcm:k1")
                #expect(!record.methodArgs.contains("back"))
                let plain = try encryptor.decrypt(Data(record.methodArgs.utf8), id: "aes-256-gcm:k1", target: "OrderClient", method: "fulfill")
                #expect(String(decoding: plain, as: UTF8.self) == String(decoding: attempts[n].argumentsJSON, as: UTF8.self))
            }
        }
    }
}

@Suite("Operator actions")
struct AttemptActionsTests {
    @Test("expire and fail only from pending; retry from failed/expired; invalid transitions name the status")
    func transitions() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            let actions = AttemptActions()
            let make = { () throws -> Attempt in try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data("{}".utf8)) }
            let a = try await queue.enqueue(try make(), on: connection)
            let b = try await queue.enqueue(try make(), on: connection)

            let expired = try await actions.expire(a, on: connection)
            #expect(expired.status == .expired)
            #expect(expired.completedAt != nil)
            let again = await #expect(throws: AttemptActionError.self) { try await actions.expire(a, on: connection) }
            #expect(again == .invalidState(id: a, action: .expire, status: .expired))
            #expect(again?.description.contains("it is expired") == true)

            let failed = try await actions.fail(b, reason: "customer cancelled", on: connection)
            #expect(failed.status == .failed && failed.completedAt != nil && failed.lastError == "customer cancelled")

            let retried = try await actions.retry(b, extraTries: 3, on: connection)
            #expect(retried.status == .pending && retried.completedAt == nil && retried.maxAttempts == retried.numAttempts + 3)
            let notRetryable = await #expect(throws: AttemptActionError.self) { try await actions.retry(b, on: connection) }
            #expect(notRetryable == .invalidState(id: b, action: .retry, status: .pending))

            try await connection.execute(
                script: "UPDATE async_task_attempts SET status = 'succeeded', completed_at = now() WHERE id = \(b)", name: "succeed")
            let fromSucceeded = await #expect(throws: AttemptActionError.self) { try await actions.fail(b, on: connection) }
            #expect(fromSucceeded == .invalidState(id: b, action: .fail, status: .succeeded))
            let missing = await #expect(throws: AttemptActionError.self) { try await actions.expire(999_999, on: connection) }
            #expect(missing == .notFound(id: 999_999))
        }
    }
}
