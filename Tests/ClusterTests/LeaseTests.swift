import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Leases: renewal and reaping", .serialized)
struct LeaseTests {
    /// What a claim leaves when its COMMIT succeeded but the answer never reached the node (the connection broke
    /// in between, e.g. in a PostgreSQL restart): the row leased to the node under the next attempt number.
    static let orphanClaim = PostgresStatement(
        name: "orphan_claim",
        sql: """
            UPDATE async_task_attempts SET num_attempts = num_attempts + 1, locked_by = $2, available_at = now() + interval '3 seconds'
            WHERE id = $1
            """, isPrepared: false)

    @Test("a call that outlasts the lease keeps it: renewed by the heartbeat, never re-claimed by another node")
    func longCallKeepsItsLease() async throws {
        try await Cluster.with { cluster in
            let ids = try await cluster.enqueue(3, arguments: { _ in #"{"_delay_ms":6000}"# })
            // A 2 s lease, renewed every 300 ms heartbeat; two nodes, so a lapsed lease would be re-claimed.
            for _ in 0..<2 { try cluster.startWorker(environment: ["ASYNCTASK_NODE_LEASE": "2s"]) }
            try await eventually("the slow calls succeed", timeout: .seconds(40)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids]) == 3
            }
            #expect(try await cluster.scalar("SELECT max(num_attempts) FROM async_task_attempts WHERE id = ANY($1)", [ids]) == 1)
            #expect(try cluster.recordedCalls().filter { ids.contains($0.id) }.count == 3)
        }
    }

    @Test("a lease the node does not know it holds (claim answer lost) is not renewed: it expires and the attempt runs")
    func orphanLeaseExpires() async throws {
        try await Cluster.with { cluster in
            let nodeID = UUID()
            try cluster.startWorker(environment: ["ASYNCTASK_NODE_ID": nodeID.uuidString.lowercased(), "ASYNCTASK_NODE_LEASE": "3s"])
            try await eventually("the node is active") {
                try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active' AND id = $1", [nodeID]) == 1
            }
            let id = try await cluster.enqueue(1, scheduledAt: Date().addingTimeInterval(3600))[0]
            try await cluster.pool.query(Self.orphanClaim, [id, nodeID])
            // The node's heartbeats (every 300 ms) must leave this lease alone: it lapses after 3 s and the node
            // (which is alive, so nothing reaps it) claims the attempt as try 2 and runs it.
            try await eventually("the orphaned attempt runs", timeout: .seconds(20)) {
                try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = $1 AND status = 'succeeded'", [id]) == 1
            }
            #expect(try cluster.recordedCalls().filter { $0.id == id }.map(\.number) == [2])
        }
    }

    @Test("PostgreSQL down for longer than dead_after: once it is back no node declares the others dead, no call runs twice")
    func noReapingAfterAnOutage() async throws {
        let server = try await PostgresServer.start()
        do {
            try await Cluster.with(targetArguments: ["--delay-ms", "9000"], server: server.url) { cluster in
                let ids = try await cluster.enqueue(20)
                // Two nodes, each with calls in flight (9 s each); dead_after 2 s, lease 30 s.
                for _ in 0..<2 { try cluster.startWorker(node: ["concurrency: 10"], target: ["concurrency: 10"]) }
                try await eventually("both nodes hold leases", timeout: .seconds(30), every: .milliseconds(50)) {
                    try await cluster.scalar("SELECT count(DISTINCT locked_by) FROM async_task_attempts WHERE locked_by IS NOT NULL") == 2
                }
                try await server.control("stop", mode: "fast")
                try await Task.sleep(for: .seconds(4))
                try await server.control("start")
                try await eventually("every call finishes", timeout: .seconds(60)) {
                    (try? await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'succeeded'", [ids])) == 20
                }
                #expect(try await cluster.scalar("SELECT max(num_attempts) FROM async_task_attempts WHERE id = ANY($1)", [ids]) == 1)
                #expect(try cluster.recordedCalls().count == 20)
                #expect(try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'dead'") == 0)
            }
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
