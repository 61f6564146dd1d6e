import Foundation
import PostgresClient
import TestSupport
import Testing

/// `make chaos` (and a bounded run in `make test`): five worker nodes on a PostgreSQL of the test's own, a
/// producer committing and rolling back order transactions, the recording example target and a webhook
/// receiver, while `ChaosMonkey` kills, stops and restarts things. Afterwards `ChaosChecker` reads the database
/// and the recordings and the report's promises are checked one by one.
///
/// `CHAOS_SECONDS` sets the length of the fault phase (default 150, at least 60; the whole test takes 10–20 s
/// more),
/// `CHAOS_SEED` repeats a run's choices, `CHAOS_REPORT` is where the table goes besides stdout (default
/// `artifacts/chaos-report.txt`).
@Suite("Chaos: kills, stops, restarts and outages under load", .serialized)
struct ChaosTests {
    static let nodes = 5
    /// Orders per second, and the share whose transaction rolls back.
    static let rate = 30.0
    static let rollbackRate = 0.2

    @Test("nothing lost or recorded twice, nothing run for a rolled-back transaction, every duplicate explained, every webhook event delivered")
    func chaos() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = try Self.setting("CHAOS_SECONDS", in: environment, default: 150, range: 60...86_400)
        let seed = UInt64(try Self.setting("CHAOS_SEED", in: environment, default: Int.random(in: 1...999_999), range: 1...Int.max))
        print("chaos: \(seconds) s of faults, seed \(seed) (CHAOS_SEED=\(seed) repeats the choices)")
        let server = try await PostgresServer.start()
        do {
            try await run(server: server, seconds: seconds, seed: seed, environment: environment)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    private func run(server: PostgresServer, seconds: Int, seed: UInt64, environment: [String: String]) async throws {
        try await Cluster.with(targetArguments: ["--control", "--delay-ms", "400"], server: server.url) { cluster in
            try await cluster.database.withConnection { connection in
                try await connection.execute(script: ChaosChecker.observer, name: "chaos_observer")
                try await connection.execute(script: ChaosProducer.createOrders, name: "chaos_orders")
            }
            let chaos = ChaosCluster(cluster: cluster, server: server)
            do {
                let report = try await play(chaos, seconds: seconds, seed: seed)
                await chaos.shutdown()
                try Self.publish(report, environment: environment)
                verify(report)
            } catch {
                for node in chaos.nodes { print("---- \(node.name) stderr (tail) ----\n\(node.process.stderr.suffix(2000))") }
                await chaos.shutdown()
                throw error
            }
        }
    }

    private func play(_ chaos: ChaosCluster, seconds: Int, seed: UInt64) async throws -> ChaosReport {
        let cluster = chaos.cluster
        try await chaos.startReceiver()
        for _ in 0..<Self.nodes { try chaos.startNode() }
        try await eventually("\(Self.nodes) nodes are active", timeout: .seconds(60)) {
            try await cluster.scalar("SELECT count(*) FROM async_task_nodes WHERE status = 'active'") == Self.nodes
        }

        let producer = ChaosProducer(configuration: cluster.database.configuration, rate: Self.rate, rollbackRate: Self.rollbackRate)
        let production = Task { await producer.run(for: .seconds(seconds), seed: seed &+ 1) }
        let monkey = ChaosMonkey(cluster: chaos)
        let started = Date().timeIntervalSince1970
        do {
            try await monkey.run(for: .seconds(seconds), seed: seed)
        } catch {
            production.cancel()
            throw error
        }
        let produced = await production.value

        // The drain: the target behaves, the receiver is up, every node runs; wait for every outcome and event.
        try await chaos.setTargetFault(["fault": "none"])
        let drainStart = ContinuousClock.now
        let checkPool = PostgresConnectionPool(configuration: cluster.database.configuration, options: .init(maxConnections: 2))
        let pendingQuery = PostgresStatement(name: "chaos_drain", sql: "SELECT count(*) AS n FROM async_task_attempts WHERE status = 'pending'")
        do {
            try await eventually("every attempt and webhook event has its outcome", timeout: .seconds(180), every: .seconds(1)) {
                (try? await checkPool.query(pendingQuery).single().decode(Int.self, "n")) == 0
            }
        } catch {
            print("chaos: the drain did not finish: \(error)")
        }
        print("chaos: drained in \(ContinuousClock.now - drainStart)")
        // One more heartbeat, so every live node's counters are in its row.
        try await Task.sleep(for: ChaosCluster.heartbeat * 3)

        var report = ChaosReport()
        report.seconds = seconds
        report.seed = seed
        report.nodesAtATime = Self.nodes
        report.nodesStarted = chaos.nodes.count
        for event in monkey.events { report.faults[event.kind, default: 0] += 1 }
        let checker = ChaosChecker(
            pool: checkPool, callsFile: cluster.recordFile, webhookFile: chaos.webhookRecord, nodes: chaos.nodes, faults: monkey.events,
            produced: produced)
        try await checker.check(into: &report)
        await checkPool.close()
        report.faultLog = monkey.events.sorted { $0.start < $1.start }.map { String(format: "+%6.1f s  ", $0.start - started) + $0.description }
        return report
    }

    /// Prints the table and writes it (with the fault log) to `CHAOS_REPORT` or `artifacts/chaos-report.txt`.
    private static func publish(_ report: ChaosReport, environment: [String: String]) throws {
        print(report.table)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = environment["CHAOS_REPORT"].map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent("artifacts/chaos-report.txt")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text =
            report.table + "\nfault log:\n" + report.faultLog.map { "  \($0)\n" }.joined()
            + "\nreproduce: CHAOS_SECONDS=\(report.seconds) CHAOS_SEED=\(report.seed) make chaos\n"
        try text.write(to: file, atomically: true, encoding: .utf8)
        print("chaos: report written to \(file.path)")
    }

    private func verify(_ report: ChaosReport) {
        // The promises.
        #expect(report.lost == 0, "lost attempts")
        #expect(report.doubleOutcomes == 0, "double outcomes")
        #expect(report.contradictedOutcomes == 0, "outcomes contradicting the target's record")
        #expect(report.executedForRolledBack == 0, "calls for rolled-back transactions")
        #expect(report.rowsOfRolledBack == 0, "rows kept for rolled-back transactions")
        #expect(report.attemptsCommitted == report.transactionsCommitted, "one attempt per committed order")
        #expect(report.recordedOutcomes == report.attemptsCommitted, "one recorded outcome per committed attempt")
        #expect(report.duplicatesUnexplained == 0, "duplicate deliveries without a kill, lease loss or timeout to explain them")
        #expect(
            report.duplicateDeliveries
                == report.duplicatesAfterKill + report.duplicatesAfterStop + report.duplicatesAfterRestart + report.duplicatesAfterTimeout
                + report.duplicatesUnexplained)
        #expect(report.leaseLossesUnexplained == 0, "leases lost by running nodes: reaped while alive, or lapsed away from any outage")
        #expect(report.webhookEventsExpected == report.errorOutcomes && report.eventsWithoutOutcome == 0, "one webhook event per error outcome")
        #expect(report.webhookEventsDelivered == report.webhookEventsExpected, "webhook events delivered")
        #expect(report.webhookMissing == 0 && report.webhookUnexpected == 0, "webhook events matched by id")
        #expect(report.pendingAtEnd == 0, "attempts still pending after the drain")
        #expect(report.violations.isEmpty, "\(report.violations)")
        // The run did what it claims: every fault happened, work was rolled back, retried, failed and lost leases.
        for kind in ChaosMonkey.Event.Kind.allCases { #expect((report.faults[kind] ?? 0) > 0, "no '\(kind.rawValue)' happened") }
        #expect(report.transactionsRolledBack > 0)
        #expect(report.attemptsCommitted > Int(Double(report.seconds) * Self.rate * 0.5))
        #expect(report.executed == report.attemptsCommitted)
        #expect(report.retriesRecorded > 0 && report.failed > 0)
        #expect(report.leasesHeldAtKills > 0, "the kills caught no node holding leases")
        #expect(report.leaseLossesHolderStopped > 0, "the stops caught no node holding leases")
        #expect(report.leaseLossesHolderKilled == report.leasesHeldAtKills, "every lease a killed node held is given up")
    }

    /// An integer setting from the environment; a malformed one is an error naming it.
    static func setting(_ name: String, in environment: [String: String], default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw TestSetupError("\(name)='\(text)' must be a whole number between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }
}
