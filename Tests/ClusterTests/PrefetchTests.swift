import Foundation
import PostgresClient
import TestSupport
import Testing

/// The prefetch buffer (attempts claimed ahead of free slots) with real worker processes: given back at once on
/// SIGTERM, re-run elsewhere after kill -9, and never a reason to exceed a target's `concurrency`.
@Suite("Prefetch buffer: drain, kill -9, caps", .serialized)
struct PrefetchTests {
    static let leasedIDs = PostgresStatement(
        name: "leased_ids", sql: "SELECT id FROM async_task_attempts WHERE locked_by IS NOT NULL ORDER BY id", isPrepared: false)

    static func leased(_ cluster: Cluster) async throws -> [Int64] {
        try await cluster.pool.query(Self.leasedIDs).map { try $0.decode(Int64.self, "id") }
    }

    @Test("SIGTERM gives the attempts claimed ahead back at once, not counted as tries; in-flight calls finish; nothing lost")
    func drainReleasesBuffer() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "4000"]) { cluster in
            let ids = try await cluster.enqueue(20)
            let worker = try cluster.startWorker(node: ["shutdown_grace: 20s"], target: ["concurrency: 4"])
            // 4 calls in flight and, at the buffer's least depth (8, at most the target's 4), 4 claimed ahead.
            // The leases come first, the calls a little later (the target counts a call once it arrives).
            try await eventually("4 in flight and 4 claimed ahead", timeout: .seconds(30), every: .milliseconds(20)) {
                let leased = try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL")
                let calls = try await cluster.targetStats()["in_flight"] ?? 0
                return leased == 8 && calls >= 4
            }
            #expect(try await cluster.targetStats()["in_flight"] == 4, "only the calls reach the target, not the buffer")
            worker.send(SIGTERM)
            // The calls take 4 s; the buffered leases must be back well before they end.
            try await eventually("the 4 buffered leases are given back at once", timeout: .seconds(2.5), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 4
            }
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE status = 'pending' AND locked_by IS NULL AND num_attempts = 0 AND available_at <= now()"
                ) == 16)
            #expect(await worker.waitForExit(timeout: .seconds(30)) == 0)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'succeeded'") == 4)
            #expect(worker.stderr.contains("released attempts claimed and never started"), "\(worker.stderr.suffix(2000))")

            try cluster.startWorker(target: ["concurrency: 20"])
            try await eventually("another node runs the rest", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 20 }
            #expect(try await cluster.scalar("SELECT max(num_attempts) FROM async_task_attempts") == 1)
            let calls = try cluster.recordedCalls()
            #expect(calls.count == 20)
            #expect(Set(calls.map(\.id)) == Set(ids))
        }
    }

    @Test("kill -9 with attempts claimed ahead: their leases are released by reaping and they run on the survivor, nothing lost")
    func killNineWithBuffer() async throws {
        // Calls of 20 s: the victim's first 4 must still be running when it is killed (with 8 s, a loaded CI machine
        // once took longer than that to start the survivor, and the victim started its buffered 4).
        try await Cluster.with(targetArguments: ["--delay-ms", "20000"]) { cluster in
            let ids = try await cluster.enqueue(20)
            let victim = try cluster.startWorker(target: ["concurrency: 4"])
            try await eventually("4 in flight and 4 claimed ahead", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 8
            }
            let held = try await Self.leased(cluster)
            try cluster.startWorker(target: ["concurrency: 20"])
            try await eventually("the survivor is up", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 2
            }
            // A node reaps others only after its own heartbeats went through for dead_after (2 s).
            try await Task.sleep(for: .seconds(2.5))
            let calledByVictim = Set(try cluster.recordedCalls().filter { held.contains($0.id) }.map(\.id))
            #expect(calledByVictim.count == 4)
            victim.send(SIGKILL)
            try await eventually("all succeed", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 20 }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND num_attempts = 2", [held]) == 8)
            let calls = try cluster.recordedCalls()
            #expect(Set(calls.map(\.id)) == Set(ids))
            for id in held where !calledByVictim.contains(id) {
                #expect(calls.filter { $0.id == id }.map(\.number) == [2], "a buffered attempt of the victim runs once, on the survivor")
            }
        }
    }

    @Test("the buffer never lets calls exceed the target's concurrency, though the node holds more leases than that")
    func capHeldWithBuffer() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "20"]) { cluster in
            _ = try await cluster.enqueue(400)
            try cluster.startWorker(target: ["concurrency: 6"])
            var mostLeased = 0
            try await eventually("all succeed", timeout: .seconds(120), every: .milliseconds(10)) {
                mostLeased = max(mostLeased, try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL"))
                return try await cluster.statusCounts()["succeeded"] == 400
            }
            let stats = try await cluster.targetStats()
            #expect((stats["peak_in_flight"] ?? 0) <= 6, "the target saw \(stats)")
            #expect((stats["peak_in_flight"] ?? 0) >= 5, "the slots were used: \(stats)")
            #expect(mostLeased > 6, "attempts were claimed ahead (at most \(mostLeased) leased at once)")
            try await eventually("the node reports its peak", timeout: .seconds(10)) {
                try await cluster.nodeCounters().contains { ($0.counters["peak_in_flight"] ?? 0) > 0 }
            }
            for node in try await cluster.nodeCounters() {
                #expect((node.counters["peak_in_flight"] ?? 0) <= 6, "\(node.counters)")
            }
        }
    }
}
