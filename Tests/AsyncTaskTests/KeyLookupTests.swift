import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// The ordered-key triggers (schema v12) against real PostgreSQL: which rows they park and promote, and that a
/// bulk insert of keyed rows into an empty table costs time in proportion to its rows (each key looked up in one
/// step of the ordering index), not to their square.
@Suite("Ordered keys: the triggers' key lookups")
struct KeyLookupTests {
    static let parkedByKey = PostgresStatement(
        name: "parked_by_key",
        sql: """
            SELECT ordering_key AS key, count(*) FILTER (WHERE available_at = 'infinity') AS parked, count(*) AS total
            FROM async_task_attempts GROUP BY ordering_key ORDER BY ordering_key
            """)
    static let parkedIDs = PostgresStatement(
        name: "parked_ids", sql: "SELECT array_agg(id ORDER BY id) AS ids FROM async_task_attempts WHERE available_at = 'infinity'")

    private func parked(on connection: PostgresConnection) async throws -> [String: (parked: Int, total: Int)] {
        var result: [String: (parked: Int, total: Int)] = [:]
        for row in try await connection.query(Self.parkedByKey) {
            result[try row.decode(String?.self, "key") ?? "-"] = (try row.decode(Int.self, "parked"), try row.decode(Int.self, "total"))
        }
        return result
    }

    private func parkedIDs(on connection: PostgresConnection) async throws -> [Int64]? {
        try await connection.query(Self.parkedIDs).single().decode([Int64]?.self, "ids")
    }

    @Test("a keyed row behind a pending or blocked row of its key is parked; a head, another target's row, or one after finished rows is not")
    func parksBehindItsKey() async throws {
        try await withMigratedDatabase { _, connection in
            try await connection.execute(
                script: """
                    INSERT INTO async_task_attempts (target, method_name, ordering_key) VALUES
                        ('A', 'm', 'k1'), ('A', 'm', 'k1'), ('B', 'm', 'k1'), ('A', 'm', 'k2'), ('A', 'm', NULL);
                    INSERT INTO async_task_attempts (target, method_name, ordering_key, status, completed_at) VALUES
                        ('A', 'm', 'k3', 'succeeded', now());
                    INSERT INTO async_task_attempts (target, method_name, ordering_key) VALUES ('A', 'm', 'k3');
                    INSERT INTO async_task_attempts (target, method_name, ordering_key, status, completed_at, key_blocked) VALUES
                        ('A', 'm', 'k4', 'failed', now(), true);
                    INSERT INTO async_task_attempts (target, method_name, ordering_key) VALUES ('A', 'm', 'k4');
                    """, name: "seed")
            let ids = try await parkedIDs(on: connection)
            // Row 2 waits behind row 1 (A/k1); row 9 behind the blocked head 8 (A/k4). B/k1, A/k2, the unkeyed
            // row and A/k3 after its finished row run.
            #expect(ids == [2, 9])
        }
    }

    @Test("the key's next row is promoted when its head finishes, and not while a blocked head holds the key")
    func promotesTheNextRow() async throws {
        try await withMigratedDatabase { _, connection in
            try await connection.execute(
                script: """
                    INSERT INTO async_task_attempts (target, method_name, ordering_key) SELECT 'A', 'm', 'k' FROM generate_series(1, 3);
                    UPDATE async_task_attempts SET status = 'succeeded', completed_at = now() WHERE id = 1;
                    """, name: "first_done")
            #expect(try await parkedIDs(on: connection) == [3])
            try await connection.execute(
                script: "UPDATE async_task_attempts SET status = 'failed', completed_at = now(), key_blocked = true WHERE id = 2",
                name: "second_blocks")
            #expect(try await parkedIDs(on: connection) == [3])
            try await connection.execute(script: "UPDATE async_task_attempts SET key_blocked = false WHERE id = 2", name: "unblock")
            #expect(try await parkedIDs(on: connection) == nil)
        }
    }

    /// Before version 12 the triggers' plans depended on the statistics: made after an ANALYZE that saw mostly
    /// one key, they scanned the table for each row whose key had no earlier row. 20,000 keyed rows inserted
    /// after such an ANALYZE took 24 s on the development machine (quadratic); now 0.5 s.
    @Test("30,000 keyed rows in one INSERT after statistics that saw one key: parked right, in time proportional to the rows")
    func bulkInsertIsLinear() async throws {
        try await withMigratedDatabase { _, connection in
            try await connection.execute(
                script: """
                    INSERT INTO async_task_attempts (target, method_name, ordering_key) SELECT 'A', 'm', 'hot' FROM generate_series(1, 1000);
                    ANALYZE async_task_attempts;
                    """, name: "skew")
            let started = ContinuousClock.now
            try await connection.execute(
                script: """
                    INSERT INTO async_task_attempts (target, method_name, ordering_key)
                    SELECT 'A', 'm', CASE WHEN g <= 7500 THEN 'hot' ELSE 'k' || g END FROM generate_series(1, 30000) g
                    """, name: "bulk")
            let took = started.duration(to: .now)
            let counts = try await parked(on: connection)
            #expect(counts["hot"]?.parked == 8499)
            #expect(counts.filter { $0.key != "hot" }.allSatisfy { $0.value.parked == 0 })
            #expect(took < .seconds(15), "30,000 keyed rows took \(took)")
        }
    }
}
