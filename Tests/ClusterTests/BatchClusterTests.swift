import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Batched delivery end to end: real worker processes, the example target with `--batch`, real PostgreSQL.
@Suite("Batched delivery across a cluster", .serialized)
struct BatchClusterTests {
    static let rows = PostgresStatement(
        name: "batch_rows",
        sql: """
            SELECT id, status, num_attempts, coalesce(last_error_kind, '') AS kind, coalesce(last_error, '') AS error,
                   coalesce(last_http_status, 0) AS http_status, extract(epoch FROM available_at - now())::float8 AS due_in,
                   coalesce(locked_by::text, '') AS locked_by
            FROM async_task_attempts ORDER BY id
            """)

    /// What another node's claim of a lapsed lease leaves: the next try number, its id, a lease of an hour.
    static let reclaim = PostgresStatement(
        name: "reclaim",
        sql: """
            UPDATE async_task_attempts SET num_attempts = num_attempts + 1, locked_by = $2, available_at = now() + interval '1 hour'
            WHERE id = $1
            """, isPrepared: false)

    struct Row {
        let status: String, tries: Int, kind: String, error: String, httpStatus: Int, dueIn: Double, lockedBy: String
    }

    func rows(_ cluster: Cluster) async throws -> [Int64: Row] {
        var rows: [Int64: Row] = [:]
        for row in try await cluster.pool.query(Self.rows) {
            rows[try row.decode(Int64.self, "id")] = Row(
                status: try row.decode(String.self, "status"), tries: try row.decode(Int.self, "num_attempts"),
                kind: try row.decode(String.self, "kind"), error: try row.decode(String.self, "error"),
                httpStatus: try row.decode(Int.self, "http_status"), dueIn: try row.decode(Double.self, "due_in"),
                lockedBy: try row.decode(String.self, "locked_by"))
        }
        return rows
    }

    /// The elements the target received: attempt id, try number, the size of the request it came in, when.
    func elements(_ cluster: Cluster) -> [(id: Int64, number: Int, batchSize: Int, at: Double, key: String)] {
        let text = (try? String(contentsOf: cluster.recordFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value, let size = (object["batch_size"] as? NSNumber)?.intValue
            else { return nil }
            return (
                id, (object["attempt_number"] as? NSNumber)?.intValue ?? -1, size, (object["at"] as? NSNumber)?.doubleValue ?? 0,
                object["idempotency_key"] as? String ?? ""
            )
        }
    }

    func allDone(_ cluster: Cluster, _ ids: [Int64]) async throws -> Bool {
        try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status <> 'pending'", [ids]) == ids.count
    }

    @Test(
        "each element decides its own attempt: ok, retry (and its Retry-After), fail, missing, duplicate, unknown id", arguments: ["http", "jsonrpc"])
    func perElementOutcomes(protocol proto: String) async throws {
        try await Cluster.with(targetArguments: ["--batch"]) { cluster in
            let steering = [
                "{}", "{}", "{}", #"{"_status":503}"#, #"{"_status":422}"#, #"{"_omit":true}"#, #"{"_duplicate":true}"#,
                #"{"_unknown_id":true}"#, #"{"_status":503,"_retry_after":40}"#,
            ]
            let ids = try await cluster.enqueue(steering.count, arguments: { steering[$0] }, maxAttempts: 2)
            try cluster.startWorker(target: ["protocol: \(proto)", "batch: { max: 100, linger: 300ms }"])
            let settled = Array(ids.prefix(8))
            try await eventually("every attempt but the delayed retry settles", timeout: .seconds(60)) { try await allDone(cluster, settled) }
            let rows = try await rows(cluster)
            let refused = proto == "http" ? "batch_result" : "jsonrpc_error"
            for id in ids.prefix(3) + [ids[7]] {
                #expect(rows[id]?.status == "succeeded" && rows[id]?.tries == 1, "\(id): \(String(describing: rows[id]))")
            }
            #expect(rows[ids[3]]?.status == "failed" && rows[ids[3]]?.tries == 2 && rows[ids[3]]?.kind == refused)
            #expect(rows[ids[3]]?.error.contains("tries exhausted") == true)
            #expect(
                rows[ids[4]]?.status == "failed" && rows[ids[4]]?.tries == 1 && rows[ids[4]]?.kind == refused, "\(String(describing: rows[ids[4]]))")
            for id in [ids[5], ids[6]] {
                #expect(
                    rows[id]?.status == "failed" && rows[id]?.tries == 2 && rows[id]?.kind == "invalid_response", "\(String(describing: rows[id]))")
            }
            // Retry-After of its own element: still pending, due in about 40 s, though its neighbours retried at once.
            let delayed = try #require(rows[ids[8]])
            #expect(delayed.status == "pending" && delayed.tries == 1 && delayed.dueIn > 25, "\(delayed)")
            let first = elements(cluster).filter { $0.number == 1 }
            #expect(first.count == steering.count)
            #expect(first.allSatisfy { $0.batchSize == steering.count }, "the first tries went as one request: \(first.map(\.batchSize))")
            #expect(first.first { $0.id == ids[0] }?.key == "attempt-\(ids[0])")
        }
    }

    @Test(
        "an HTTP error or a reply of the wrong shape applies to every attempt of the request",
        arguments: [
            (#"{"_batch_status":503}"#, "http", "http_status"), (#"{"_batch_status":503}"#, "jsonrpc", "http_status"),
            (#"{"_batch_reply":"object"}"#, "http", "invalid_response"), (#"{"_batch_reply":"object"}"#, "jsonrpc", "invalid_response"),
        ])
    func wholeRequest(steer: String, protocol proto: String, kind: String) async throws {
        try await Cluster.with(targetArguments: ["--batch"]) { cluster in
            let ids = try await cluster.enqueue(5, arguments: { $0 == 2 ? steer : "{}" }, maxAttempts: 1)
            try cluster.startWorker(target: ["protocol: \(proto)", "batch: { max: 100, linger: 300ms }"])
            try await eventually("all settle", timeout: .seconds(60)) { try await allDone(cluster, ids) }
            #expect(elements(cluster).map(\.batchSize) == [5, 5, 5, 5, 5])
            for (id, row) in try await rows(cluster) {
                #expect(row.status == "failed" && row.kind == kind, "\(id): \(row)")
                if kind == "http_status" { #expect(row.httpStatus == 503 && row.error.contains("tries exhausted")) }
            }
        }
    }

    @Test("a lease lost within a batch: that element's write is fenced out, the others are recorded")
    func fencingWithinABatch() async throws {
        try await Cluster.with(targetArguments: ["--batch"]) { cluster in
            // The target holds the request 6 s: room for the re-claim below on a loaded machine.
            let ids = try await cluster.enqueue(3, arguments: { _ in #"{"_delay_ms":6000}"# })
            try cluster.startWorker(target: ["batch: { max: 100, linger: 300ms }"])
            // The target records a batch when it arrives, before its delay: once it has all three, the node holds
            // their leases until the reply. Waiting on the record, not on a poll of the table, cannot miss the window.
            do {
                try await eventually("the target receives the batch of three", timeout: .seconds(45), every: .milliseconds(20)) {
                    elements(cluster).count == 3
                }
            } catch {
                throw TestSetupError("\(error); rows: \(try await rows(cluster)); received: \(elements(cluster).map(\.id))")
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 3)
            // Another node re-claims the middle attempt while the batch is in flight.
            let other = UUID()
            try await cluster.pool.query(Self.reclaim, [ids[1], other])
            try await eventually("the other two succeed", timeout: .seconds(30)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [[ids[0], ids[2]]])
                    == 2
            }
            #expect(elements(cluster).map(\.batchSize) == [3, 3, 3])
            let stolen = try #require(try await rows(cluster)[ids[1]])
            #expect(stolen.status == "pending" && stolen.tries == 2 && stolen.lockedBy == other.uuidString.lowercased(), "\(stolen)")
            try await eventually("the node counts the fenced write", timeout: .seconds(20)) {
                try await cluster.nodeCounters().contains { ($0.counters["fenced_rejects"] ?? 0) == 1 && ($0.counters["succeeded"] ?? 0) == 2 }
            }
        }
    }

    @Test("encrypted elements are decrypted each on its own; one the node cannot open fails alone")
    func encryptedElements() async throws {
        let keys = [
            "k1": Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString(),
            "k9": Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString(),
        ]
        try await Cluster.with(targetArguments: ["--batch"]) { cluster in
            func enqueue(_ numbers: Range<Int>, key: String) async throws -> [Int64] {
                let encryptor = AESGCMEncryptor(keyRing: try KeyRing(primary: key, base64Keys: [key: keys[key]!]))
                let attempts = try numbers.map {
                    try Attempt(
                        target: "OrderClient", method: "fulfill", argumentsJSON: Data(#"{"card":"SECRET-\#($0)","order_number":\#($0)}"#.utf8))
                }
                return try await cluster.pool.withTransaction { try await AttemptQueue(encryptor: encryptor).enqueue(attempts, on: $0) }
            }
            let readable = try await enqueue(0..<6, key: "k1")
            let unreadable = try await enqueue(100..<101, key: "k9")
            let worker = try cluster.startWorker(
                target: ["batch: { max: 100, linger: 300ms }"], extra: [#"encryption: { primary: k1, keys: { k1: "${TEST_KEY_K1}" } }"#],
                environment: ["TEST_KEY_K1": keys["k1"]!])
            try await eventually("all settle", timeout: .seconds(60)) { try await allDone(cluster, readable + unreadable) }
            let rows = try await rows(cluster)
            for id in readable { #expect(rows[id]?.status == "succeeded") }
            #expect(rows[unreadable[0]]?.status == "failed" && rows[unreadable[0]]?.kind == "decryption")
            let received = try cluster.recordedOrderNumbers()
            for (index, id) in readable.enumerated() { #expect(received[id] == index) }
            #expect(received[unreadable[0]] == nil)
            #expect(elements(cluster).allSatisfy { $0.batchSize == 6 })
            #expect(!worker.stderr.contains("SECRET"))
        }
    }

    @Test("a lone attempt waits no longer than linger; a full batch goes at once")
    func lingerBound() async throws {
        try await Cluster.with(targetArguments: ["--batch"]) { cluster in
            // Claimed at available_at - lease (30 s): the time from the claim to the target is linger + the call.
            try cluster.startWorker(target: ["batch: { max: 4, linger: 1s }"])
            try await eventually("the node is active") {
                try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 1
            }
            let lone = try await cluster.enqueue(1)
            try await eventually("the lone attempt succeeds", timeout: .seconds(30)) { try await allDone(cluster, lone) }
            let full = try await cluster.enqueue(4)
            try await eventually("the full batch succeeds", timeout: .seconds(30)) { try await allDone(cluster, full) }
            let claimed = try await cluster.pool.query(
                PostgresStatement(
                    name: "claimed_at",
                    sql: "SELECT id, extract(epoch FROM available_at - interval '30 seconds')::float8 AS at FROM async_task_attempts",
                    isPrepared: false))
            var claimedAt: [Int64: Double] = [:]
            for row in claimed { claimedAt[try row.decode(Int64.self, "id")] = try row.decode(Double.self, "at") }
            let received = elements(cluster)
            let loneWait = try #require(received.first { $0.id == lone[0] }).at - claimedAt[lone[0]]!
            #expect(loneWait >= 0.9 && loneWait < 2.5, "a lone attempt waited \(loneWait) s with linger 1 s")
            for id in full {
                let wait = try #require(received.first { $0.id == id }).at - claimedAt[id]!
                #expect(wait < 0.8, "a full batch waited \(wait) s for company it already had")
            }
            #expect(received.filter { full.contains($0.id) }.allSatisfy { $0.batchSize == 4 })
        }
    }

    @Test("batches never put more attempts in flight than the target's concurrency")
    func concurrencyCapCountsAttempts() async throws {
        try await Cluster.with(targetArguments: ["--batch", "--delay-ms", "300"]) { cluster in
            let ids = try await cluster.enqueue(60)
            try cluster.startWorker(node: ["concurrency: 100"], target: ["concurrency: 10", "batch: { max: 100, linger: 50ms }"])
            try await eventually("all succeed", timeout: .seconds(60)) { try await allDone(cluster, ids) }
            let stats = try await cluster.targetStats()
            #expect((stats["peak_in_flight"] ?? 0) <= 10 && (stats["peak_in_flight"] ?? 0) >= 2, "\(stats)")
            let sizes = elements(cluster).map(\.batchSize)
            #expect(sizes.count == 60 && sizes.allSatisfy { $0 <= 10 } && sizes.contains { $0 > 1 }, "\(sizes)")
        }
    }
}
