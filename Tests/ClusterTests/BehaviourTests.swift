import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Worker behaviour against a real target", .serialized)
struct BehaviourTests {
    static let lastError = PostgresStatement(
        name: "last_error",
        sql: """
            SELECT status, num_attempts, coalesce(last_error, '') AS last_error, coalesce(last_http_status, 0) AS http FROM async_task_attempts WHERE id = $1
            """)

    @Test("retries with backoff up to max_attempts, honours Retry-After, fails 4xx at once, fails undecodable rows, keeps running")
    func outcomes() async throws {
        try await Cluster.with { cluster in
            let flaky = try await cluster.enqueue(1, arguments: { _ in #"{"_status":503}"# }, maxAttempts: 3)[0]
            let throttled = try await cluster.enqueue(1, arguments: { _ in #"{"_status":429,"_retry_after":"2"}"# }, maxAttempts: 2)[0]
            let missing = try await cluster.enqueue(1, arguments: { _ in #"{"_status":404}"# })[0]
            let good = try await cluster.enqueue(5)
            let encrypted = try await cluster.scalar(
                """
                INSERT INTO async_task_attempts (target, method_name, method_args, encryptor)
                VALUES ('OrderClient', 'fulfill', '{"v":1,"ct":"garbage"}', 'rot13:k9') RETURNING id
                """)
            try cluster.startWorker()
            try await eventually("all finish", timeout: .seconds(60)) { (try await cluster.statusCounts()["pending"] ?? 0) == 0 }

            let flakyRow = try await cluster.pool.query(Self.lastError, [flaky]).single()
            #expect(try flakyRow.decode(String.self, "status") == "failed")
            #expect(try flakyRow.decode(Int.self, "num_attempts") == 3)
            #expect(try flakyRow.decode(String.self, "last_error").contains("tries exhausted"))
            #expect(try flakyRow.decode(Int.self, "http") == 503)
            let calls = try cluster.recordedCalls()
            #expect(calls.filter { $0.id == flaky }.map(\.number).sorted() == [1, 2, 3])

            let throttledCalls = calls.filter { $0.id == throttled }.sorted { $0.number < $1.number }
            #expect(throttledCalls.count == 2)
            if throttledCalls.count == 2 { #expect(throttledCalls[1].at - throttledCalls[0].at >= 1.9, "Retry-After: 2 was not honoured") }

            let missingRow = try await cluster.pool.query(Self.lastError, [missing]).single()
            #expect(try missingRow.decode(String.self, "status") == "failed")
            #expect(try missingRow.decode(Int.self, "num_attempts") == 1)
            #expect(try missingRow.decode(Int.self, "http") == 404)

            let encryptedRow = try await cluster.pool.query(Self.lastError, [Int64(encrypted)]).single()
            #expect(try encryptedRow.decode(String.self, "status") == "failed")
            #expect(try encryptedRow.decode(String.self, "last_error").hasPrefix("decryption:"))
            #expect(try encryptedRow.decode(String.self, "last_error").contains("rot13:k9"))
            #expect(!calls.contains { $0.id == Int64(encrypted) })

            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [good]) == 5)
            #expect(cluster.workers[0].isRunning)
        }
    }

    @Test("a target no node serves stays pending and is reported; a future scheduled_at is not run early")
    func unservedAndScheduled() async throws {
        try await Cluster.with { cluster in
            let unserved = try await cluster.scalar(
                """
                INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('BillingClient', 'charge', '{}') RETURNING id
                """)
            let runAt = Date().addingTimeInterval(3)
            let scheduled = try await cluster.enqueue(1, scheduledAt: runAt)[0]
            try cluster.startWorker()
            try await eventually("the scheduled attempt succeeds", timeout: .seconds(30)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [scheduled]) == 1
            }
            let call = try #require(try cluster.recordedCalls().first { $0.id == scheduled })
            #expect(call.at >= runAt.timeIntervalSince1970 - 0.05, "ran \(runAt.timeIntervalSince1970 - call.at) s early")
            try await eventually("the node reports the unserved target", timeout: .seconds(30)) {
                cluster.workers[0].stderr.contains("BillingClient")
            }
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'pending' AND num_attempts = 0", [Int64(unserved)]) == 1)
        }
    }

    @Test("lower priority values run first")
    func priorityOrder() async throws {
        try await Cluster.with { cluster in
            let later = try await cluster.enqueue(10, priority: 5)
            let first = try await cluster.enqueue(10, priority: -1)
            // One claim loop: two loops' claims can land in the prefetch buffer in the other order.
            try cluster.startWorker(node: ["concurrency: 1", "claim_batch: 1", "claimers: 1"], target: ["concurrency: 1"])
            try await eventually("all succeed", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 20 }
            let order = try cluster.recordedCalls().sorted { $0.at < $1.at }.map(\.id)
            #expect(Array(order.prefix(10)) == first)
            #expect(Array(order.suffix(10)) == later)
        }
    }

    @Test("PostgreSQL restarted during a drain: nodes survive and the drain completes")
    func databaseRestart() async throws {
        let server = try await PostgresServer.start()
        do {
            try await runRestart(server)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    private func runRestart(_ server: PostgresServer) async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "20"], server: server.url) { cluster in
            _ = try await cluster.enqueue(3000)
            for _ in 0..<2 { try cluster.startWorker(node: ["concurrency: 50"], target: ["concurrency: 50"]) }
            try await eventually("the drain is under way", timeout: .seconds(60)) { (try await cluster.statusCounts()["succeeded"] ?? 0) > 300 }
            try await server.control("restart", mode: "fast")
            try await eventually("the drain completes after the restart", timeout: .seconds(120)) {
                (try? await cluster.statusCounts()["succeeded"]) == 3000
            }
            #expect(cluster.workers.allSatisfy { $0.isRunning })
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 0)
        }
    }
}

@Suite("Claiming across several targets", .serialized)
struct MultiTargetClaimTests {
    @Test("a node serving several targets claims for each: one with nothing due never holds the node's slots")
    func idleTargetDoesNotStarveOthers() async throws {
        try await Cluster.with { cluster in
            // `Aardvark` sorts before `OrderClient` and may use every slot of the node (its concurrency is above the
            // node's), yet has nothing due: the node must still claim OrderClient's attempts.
            let ids = try await cluster.enqueue(40)
            try cluster.startWorker(node: ["concurrency: 8"], otherTargets: ["Aardvark: { url: \"\(cluster.targetURL)\", concurrency: 64 }"])
            try await eventually("OrderClient's attempts succeed", timeout: .seconds(30)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids]) == 40
            }
            #expect(cluster.workers[0].isRunning)
        }
    }
}
