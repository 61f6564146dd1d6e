import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import AsyncTaskWorker

/// The outcome flush of keyed attempts passes each key on to its next row through indexes, whatever the size of
/// the table: its key-passing statement is prepared, so PostgreSQL may run it with a generic plan made without
/// the number of keys passed (the claims' generic plans once hashed the whole table: `ClaimScanTests`).
@Suite("The keyed outcome flush hands each key's next row over, by index, at any size")
struct KeyedFlushTests {
    /// 100,000 pending attempts of one target in 1,000 ordering keys (row `g` has key `g % 1000`): the insert
    /// parks every row behind the first of its key.
    static let fill = PostgresStatement(
        name: "fill_keyed_attempts",
        sql: """
            INSERT INTO async_task_attempts (target, method_name, method_args, ordering_key)
            SELECT 'Ordered', 'fulfill', jsonb_build_object('n', g), 'k' || (g % 1000) FROM generate_series(1, 100000) g
            """, isPrepared: false)

    /// Rows of the attempts table read so far, by sequential and by index scans.
    static let rowsRead = PostgresStatement(
        name: "attempts_rows_read",
        sql: """
            SELECT seq_scan, seq_tup_read + idx_tup_fetch AS rows_read FROM pg_stat_user_tables WHERE relname = 'async_task_attempts'
            """, isPrepared: false)

    static func outcome(_ attempt: ClaimedAttempt) -> AttemptOutcome {
        AttemptOutcome(attempt: attempt, disposition: .succeeded, error: nil, errorKind: nil, httpStatus: 200)
    }

    @Test(
        "seven flushes of 100 keyed successes under forced generic plans at 100,000 rows: each hands over its key's next row, reading ~3 rows per outcome, no sequential scan"
    )
    func handsOverByIndex() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            try await database.withConnection { connection in
                try await connection.query(Self.fill)
                try await connection.execute(script: "ANALYZE async_task_attempts", name: "analyze")
            }
            try await database.withConnection { connection in
                try await connection.execute(script: "SET plan_cache_mode = force_generic_plan; SET jit = off", name: "generic_plans")
                let before = try await connection.query(Self.rowsRead).single()
                let node = UUID()
                let plan = ClaimPlan(caps: [("Ordered", 100)], total: 100)
                var running = try await AttemptClaimer(nodeID: node, lease: .seconds(60)).claim(plan, on: connection).attempts
                #expect(running.map(\.id).sorted() == Array(1...100))
                let writer = OutcomeWriter(nodeID: node, lease: .seconds(60))
                for _ in 0..<7 {
                    let ids = running.map(\.id).sorted()
                    let result = try await writer.write(running.map(Self.outcome), handover: plan, on: connection)
                    #expect(result.accepted == Set(ids))
                    // Row g's key is g % 1000: its next row is g + 1000, leased to this node with its key.
                    #expect(result.handedOver.map(\.id).sorted() == ids.map { $0 + 1000 })
                    #expect(result.handedOver.allSatisfy { $0.orderingKey == "k\($0.id % 1000)" && $0.attemptNumber == 1 })
                    running = result.handedOver
                }
                try await connection.execute(script: "SELECT pg_stat_force_next_flush()", name: "flush_statistics")
                let after = try await connection.query(Self.rowsRead).single()
                let scans = try after.decode(Int64.self, "seq_scan") - before.decode(Int64.self, "seq_scan")
                let read = try after.decode(Int64.self, "rows_read") - before.decode(Int64.self, "rows_read")
                #expect(scans == 0, "the keyed flush scanned async_task_attempts sequentially \(scans) time(s)")
                // About 3 rows per outcome (2,300 for these 700 outcomes and their handovers); a search of a key's
                // next row that walks the table by id instead of the key's range read 2.8 million.
                #expect(read <= 7 * 100 * 10, "the keyed flush read \(read) rows of async_task_attempts for 700 outcomes")
            }
        }
    }
}
