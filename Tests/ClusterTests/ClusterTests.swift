import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Worker cluster: real asynctask worker processes", .serialized)
struct ClusterTests {
    @Test("3 nodes drain 20,000 attempts: one outcome each, every id called, caps held")
    func drain() async throws {
        try await Cluster.with { cluster in
            let ids = try await cluster.enqueue(20_000)
            for _ in 0..<3 { try cluster.startWorker(node: ["concurrency: 40"], target: ["concurrency: 25"]) }
            try await eventually("all 20,000 attempts succeed", timeout: .seconds(240)) {
                try await cluster.statusCounts()["succeeded"] == 20_000
            }
            #expect(
                try await cluster.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE status <> 'succeeded' OR completed_at IS NULL OR locked_by IS NOT NULL") == 0)
            let calls = try cluster.recordedCalls()
            #expect(Set(calls.map(\.id)) == Set(ids))
            // Per-node cap: the target's 25 (below the node's 40); three nodes together at most 75.
            let stats = try await cluster.targetStats()
            #expect((stats["peak_in_flight"] ?? 0) <= 75)
            try await eventually("heartbeats report counters") {
                try await cluster.nodeCounters().reduce(0) { $0 + ($1.counters["succeeded"] ?? 0) } == 20_000
            }
            for node in try await cluster.nodeCounters() {
                #expect((node.counters["peak_in_flight"] ?? 0) <= 25, "a node exceeded its target cap: \(node.counters)")
                #expect((node.counters["claimed"] ?? 0) > 0, "every node took part")
            }
        }
    }

    @Test("kill -9 with 200 calls in flight: marked dead, its attempts restart within dead_after + 2 s, all succeed")
    func killNine() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "8000"]) { cluster in
            let victim = try cluster.startWorker(node: ["concurrency: 200"], target: ["concurrency: 200"])
            _ = try await cluster.enqueue(200)
            try await eventually("the victim holds 200 leases", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 200
            }
            // The survivor is part of a running cluster: up, with its heartbeats going through for dead_after (a node
            // reaps others only then, so that it never mistakes its own outage for theirs).
            try cluster.startWorker(node: ["concurrency: 200"], target: ["concurrency: 200"])
            try await eventually("the survivor is up", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == 2
            }
            try await Task.sleep(for: .seconds(2.5))
            victim.send(SIGKILL)
            let killedAt = ContinuousClock.now
            // dead_after is 2 s; the lease is 30 s, so only reaping explains a fast restart.
            try await eventually("every attempt is re-claimed by the survivor", timeout: .seconds(30), every: .milliseconds(50)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE num_attempts >= 2") == 200
            }
            let restartedAfter = ContinuousClock.now - killedAt
            #expect(restartedAfter < .seconds(4), "restarted after \(restartedAfter)")
            try await eventually("all succeed", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 200 }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'dead'") == 1)
        }
    }

    @Test("SIGSTOP past the lease, others finish, SIGCONT: the late outcomes are fenced out and counted")
    func pausedNodeIsFenced() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "700"]) { cluster in
            let paused = try cluster.startWorker(node: ["concurrency: 30"], target: ["concurrency: 30"])
            _ = try await cluster.enqueue(30)
            try await eventually("the node holds 30 leases", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 30
            }
            paused.send(SIGSTOP)
            try cluster.startWorker(node: ["concurrency: 30"], target: ["concurrency: 30"])
            try await eventually("the other node finishes all", timeout: .seconds(60)) { try await cluster.statusCounts()["succeeded"] == 30 }
            paused.send(SIGCONT)
            try await eventually("the paused node reports its fenced writes", timeout: .seconds(30)) {
                try await cluster.nodeCounters().contains { ($0.counters["fenced_rejects"] ?? 0) == 30 }
            }
            // Still exactly one outcome each: the second node's.
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'succeeded' AND num_attempts = 2") == 30)
            #expect(paused.isRunning)
        }
    }

    @Test("SIGTERM drains: in-flight calls finish, nothing stays leased, node stopped, exit 0")
    func gracefulStop() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "1000"]) { cluster in
            let worker = try cluster.startWorker(node: ["concurrency: 20", "shutdown_grace: 10s"], target: ["concurrency: 20"])
            _ = try await cluster.enqueue(50)
            // At the target, not in leases: the node also holds attempts claimed ahead, which a drain gives back.
            try await eventually("20 in flight", timeout: .seconds(30), every: .milliseconds(20)) {
                try await cluster.targetStats()["in_flight"] == 20
            }
            worker.send(SIGTERM)
            let status = await worker.waitForExit(timeout: .seconds(20))
            #expect(status == 0)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'succeeded'") == 20)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 0)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE status = 'pending' AND num_attempts = 0") == 30)
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'stopped' AND stopped_at IS NOT NULL") == 1)
        }
    }

    @Test("a second SIGTERM stops at once")
    func secondSignalStopsAtOnce() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "20000"]) { cluster in
            let worker = try cluster.startWorker(node: ["concurrency: 5", "shutdown_grace: 60s"])
            _ = try await cluster.enqueue(5)
            // In flight means the target holds the calls (it records each on arrival), not only that the rows
            // are leased: a lease is taken before the call starts.
            try await eventually("the target holds 5 calls", timeout: .seconds(30), every: .milliseconds(20)) {
                try cluster.recordedCalls().count == 5
            }
            worker.send(SIGTERM)
            try await Task.sleep(for: .milliseconds(500))
            #expect(worker.isRunning, "the first signal drains and waits for the calls; the node's log:\n\(worker.stderr.suffix(3000))")
            worker.send(SIGTERM)
            let status = await worker.waitForExit(timeout: .seconds(5))
            #expect(status != nil && status != 0, "exit status \(status.map(String.init) ?? "none"); the node's log:\n\(worker.stderr.suffix(3000))")
        }
    }

    @Test("a node whose admin port is taken stops with an error instead of hanging")
    func adminPortTaken() async throws {
        try await Cluster.with { cluster in
            let port = Int.random(in: 40_000..<50_000)
            let first = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:\(port)\" }"])
            try await eventually("the first node registers") { try await cluster.scalar("SELECT count(*) FROM async_task_nodes") == 1 }
            let second = try cluster.startWorker(extra: ["admin: { listen: \"127.0.0.1:\(port)\" }"])
            let status = await second.waitForExit(timeout: .seconds(20))
            #expect(status != nil && status != 0, "the second node neither failed nor exited")
            #expect(first.isRunning)
        }
    }
}
