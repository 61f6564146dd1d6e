import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import AsyncTaskWorker

/// A claim hands its attempts over in the order it picked them: priority, then due time, then id (README:
/// attempts claimed ahead start in claim order). The claim statement and the claim function lease their rows by
/// id and put that order back after the UPDATE.
@Suite("Claims return their attempts in priority order")
struct ClaimOrderTests {
    /// Per target, ten attempts of priority 5 and then ten of priority -1 (ids in the opposite order of their
    /// priority), and for `Keyed` each in a concurrency key of its own.
    static let fill = """
        INSERT INTO async_task_attempts (target, method_name, method_args, priority, concurrency_key)
        SELECT t.target, 'fulfill', jsonb_build_object('n', g), CASE WHEN g <= 10 THEN 5 ELSE -1 END,
               CASE WHEN t.target = 'Keyed' THEN 'k' || g END
        FROM (VALUES ('Free'), ('Global'), ('Keyed')) AS t(target), generate_series(1, 20) g
        ORDER BY t.target, g;
        """

    static let priorities = PostgresStatement(
        name: "priorities", sql: "SELECT id, priority FROM async_task_attempts WHERE id = ANY($1::bigint[])", isPrepared: false)

    @Test("the claim statement, and the claim function with a global and a per-key limit")
    func priorityFirst() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                try await connection.execute(script: Self.fill, name: "fill_attempts")
                let claimer = AttemptClaimer(nodeID: UUID(), lease: .seconds(60))
                let plans = [
                    ClaimPlan(caps: [("Free", 20)], total: 20),
                    ClaimPlan(caps: [("Global", 20)], total: 20, limits: ["Global": TargetLimits(globalConcurrency: 1_000)]),
                    ClaimPlan(caps: [("Keyed", 20)], total: 20, limits: ["Keyed": TargetLimits(keyConcurrency: 1)]),
                ]
                for plan in plans {
                    let ids = try await claimer.claim(plan, on: connection).attempts.map(\.id)
                    #expect(ids.count == 20, "\(plan.caps)")
                    let rows = try await connection.query(Self.priorities, [ids])
                    var priority: [Int64: Int] = [:]
                    for row in rows { priority[try row.decode(Int64.self, "id")] = try row.decode(Int.self, "priority") }
                    // The priority -1 half first, though its ids are the higher ones.
                    #expect(ids.map { priority[$0] ?? 0 } == Array(repeating: -1, count: 10) + Array(repeating: 5, count: 10), "\(plan.caps): \(ids)")
                    // Within each priority, ids ascend (one due time for all).
                    #expect(
                        Array(ids.prefix(10)) == ids.prefix(10).sorted() && Array(ids.suffix(10)) == ids.suffix(10).sorted(), "\(plan.caps): \(ids)")
                }
            }
        }
    }
}
