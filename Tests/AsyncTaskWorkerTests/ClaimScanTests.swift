import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import AsyncTaskWorker

/// Claims find their rows through indexes whatever the size of the attempts table. Prepared statements and the
/// claim function's PL/pgSQL run generic plans, made without the claim's size; a generic plan that joined the
/// picked rows back to the table guessed a thousand of them and, on tables of about 100,000 rows, hashed the
/// whole table instead (30-50 ms per claim instead of 2-4).
@Suite("Claims read the attempts table by index at any size")
struct ClaimScanTests {
    /// 100,000 pending attempts of `targets` in turn; keyed ones (`Keyed`) in 500 concurrency keys.
    static func fill(_ targets: [String]) -> String {
        """
        TRUNCATE async_task_attempts;
        INSERT INTO async_task_attempts (target, method_name, method_args, concurrency_key)
        SELECT t.target, 'fulfill', jsonb_build_object('n', g), CASE WHEN t.target = 'Keyed' THEN 'k' || (g % 500) END
        FROM generate_series(1, 100000) g,
             LATERAL (SELECT ('{\(targets.joined(separator: ","))}'::text[])[g % \(targets.count) + 1] AS target) t;
        ANALYZE async_task_attempts;
        """
    }

    static let sequentialScans = PostgresStatement(
        name: "attempts_sequential_scans",
        sql: "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'async_task_attempts'", isPrepared: false)

    /// How many sequential scans of the attempts table `claims` made, each claim run seven times (enough that
    /// PL/pgSQL's plans are its generic ones) on one connection under forced generic plans, after `fill`.
    static func sequentialScans(in database: TestDatabase, fill targets: [String], claims: [ClaimPlan]) async throws -> Int64 {
        try await database.withConnection { connection in
            try await connection.execute(script: Self.fill(targets), name: "fill_attempts")
        }
        return try await database.withConnection { connection in
            try await connection.execute(script: "SET plan_cache_mode = force_generic_plan; SET jit = off", name: "generic_plans")
            let before = try await connection.query(Self.sequentialScans).single().decode(Int64.self, "seq_scan")
            let claimer = AttemptClaimer(nodeID: UUID(), lease: .seconds(60))
            for _ in 0..<7 {
                for plan in claims {
                    let claimed = try await claimer.claim(plan, on: connection)
                    #expect(claimed.attempts.count == plan.total, "\(plan.caps)")
                }
            }
            try await connection.execute(script: "SELECT pg_stat_force_next_flush()", name: "flush_statistics")
            return try await connection.query(Self.sequentialScans).single().decode(Int64.self, "seq_scan") - before
        }
    }

    @Test("no sequential scan under forced generic plans at 100,000 rows: the claim, and the claim function with a global and a per-key limit")
    func noSequentialScans() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            // The nodes' claim statement, with the table all of one target (as a drain of one backlog).
            let free = try await Self.sequentialScans(in: database, fill: ["Free"], claims: [ClaimPlan(caps: [("Free", 100)], total: 100)])
            #expect(free == 0, "the claim statement scanned async_task_attempts sequentially \(free) time(s)")
            // The claim function, for a target with a global limit and one with a per-key limit.
            let limited = try await Self.sequentialScans(
                in: database, fill: ["Global", "Keyed"],
                claims: [
                    ClaimPlan(caps: [("Global", 100)], total: 100, limits: ["Global": TargetLimits(globalConcurrency: 100_000)]),
                    ClaimPlan(caps: [("Keyed", 100)], total: 100, limits: ["Keyed": TargetLimits(keyConcurrency: 1_000)]),
                ])
            #expect(limited == 0, "the claim function scanned async_task_attempts sequentially \(limited) time(s)")
        }
    }
}
