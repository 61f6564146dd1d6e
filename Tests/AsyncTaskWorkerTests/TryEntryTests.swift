import AsyncTaskCore
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import AsyncTaskWorker

/// The try-history entry the node writes for each outcome (`TryEntry`) is the one the outcome flush used to build
/// in SQL: checked key by key, and as `jsonb` against that SQL on a real PostgreSQL.
@Suite("Try history entries written by the node")
struct TryEntryTests {
    static let node = UUID(uuidString: "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9")!
    /// The node's id as the flush passes it to each entry.
    static let nodeText = node.uuidString.lowercased()

    static func outcome(
        _ disposition: AttemptOutcome.Disposition, try number: Int = 1, error: String? = nil, kind: AttemptErrorKind? = nil, status: Int? = nil,
        excerpt: String? = nil, startedAt: Date? = nil, duration: Duration? = nil, maxAttempts: Int? = nil
    ) -> AttemptOutcome {
        let attempt = ClaimedAttempt(
            id: 7, target: "T", methodName: "m", methodArgs: "{}", encryptor: nil, attemptNumber: number, maxAttempts: maxAttempts,
            idempotenceToken: nil)
        return AttemptOutcome(
            attempt: attempt, disposition: disposition, error: error, errorKind: kind, httpStatus: status, excerpt: excerpt, startedAt: startedAt,
            duration: duration, maxAttempts: maxAttempts)
    }

    /// The outcomes the comparisons run over: every disposition, every optional field present and absent,
    /// text that needs escaping, durations on rounding ties and timestamps on millisecond edges.
    static let samples: [AttemptOutcome] = [
        outcome(
            .succeeded, status: 200, startedAt: Date(timeIntervalSince1970: 1_765_000_000.123456), duration: .microseconds(412_345), maxAttempts: 25),
        outcome(.succeeded),
        outcome(
            .retry(after: .seconds(3)), try: 2, error: "http_status: 503 Service \"Unavailable\"\n\\", kind: .httpStatus, status: 503,
            excerpt: "tab\there, é, 😀, \u{1}", startedAt: Date(timeIntervalSince1970: 1_765_000_000.9995), duration: .nanoseconds(2_500),
            maxAttempts: 5),
        outcome(
            .failed, try: 5, error: "connect: refused", kind: .connect, startedAt: Date(timeIntervalSince1970: 0.0005),
            duration: .nanoseconds(1_234_500)),
        outcome(.release, startedAt: Date(timeIntervalSince1970: 1_700_000_000), duration: .seconds(61)),
        outcome(.retry(after: .zero), error: "timeout", kind: .timeout, excerpt: "", duration: .zero),
    ]

    @Test("keys with null values are left out; the outcome is named from the status and the error")
    func fields() throws {
        let bare = TryEntry(Self.outcome(.succeeded), node: Self.nodeText).json
        #expect(bare == #"{"try":1,"node":"0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9","outcome":"succeeded"}"#)
        let names = [Self.samples[2], Self.samples[3], Self.samples[4]].map {
            (try? JSONSerialization.jsonObject(with: Data(TryEntry($0, node: Self.nodeText).json.utf8)) as? [String: Any])?["outcome"] as? String
        }
        #expect(names == ["retry", "failed", "released"])
        let retry = try #require(
            JSONSerialization.jsonObject(with: Data(TryEntry(Self.samples[2], node: Self.nodeText).json.utf8)) as? [String: Any])
        #expect(retry["error"] as? String == "http_status: 503 Service \"Unavailable\"\n\\")
        #expect(retry["excerpt"] as? String == "tab\there, é, 😀, \u{1}")
        #expect(retry["error_kind"] as? String == "http_status")
        #expect(retry["started_at"] as? String == "2025-12-06T05:46:40.999Z")
        // An empty excerpt is no excerpt, as the flush has always stored it.
        #expect(!TryEntry(Self.samples[5], node: Self.nodeText).json.contains("excerpt"))
    }

    @Test("durations in milliseconds with three decimals, ties away from zero")
    func durations() {
        #expect(TryEntry.milliseconds(.zero) == "0.000")
        #expect(TryEntry.milliseconds(.nanoseconds(499)) == "0.000")
        #expect(TryEntry.milliseconds(.nanoseconds(500)) == "0.001")
        #expect(TryEntry.milliseconds(.nanoseconds(2_500)) == "0.003")
        #expect(TryEntry.milliseconds(.milliseconds(12) + .microseconds(500)) == "12.500")
        #expect(TryEntry.milliseconds(.seconds(61)) == "61000.000")
        #expect(TryEntry.milliseconds(.zero - .nanoseconds(1_500)) == "-0.002")
    }

    @Test("each entry equals, as jsonb, what the flush's SQL built from the same values")
    func sameAsSQL() async throws {
        try await TestDatabase.with { database in
            let connection = try await PostgresConnection.connect(database.configuration)
            defer { Task { await connection.close() } }
            for outcome in Self.samples {
                let stored = outcome.disposition.stored
                let row = try await connection.query(
                    Self.sqlEntry,
                    [
                        TryEntry(outcome, node: Self.nodeText).json, Int32(outcome.attempt.attemptNumber), Self.node, outcome.startedAt,
                        outcome.duration.map { $0.seconds * 1000 }, stored.status.rawValue, outcome.error, outcome.maxAttempts.map { Int32($0) },
                        outcome.errorKind?.rawValue, outcome.httpStatus.map { Int32($0) }, outcome.excerpt.flatMap { $0.isEmpty ? nil : $0 },
                    ]
                ).single()
                let node = try row.decode(String.self, "node_entry")
                let sql = try row.decode(String.self, "sql_entry")
                #expect(node == sql, "\(outcome.disposition)")
            }
        }
    }

    /// The entry as the outcome flush built it before the node wrote it (schema v5 to this change), beside the
    /// node's text read as jsonb; both printed by PostgreSQL, so key order and number forms are its own.
    static let sqlEntry = PostgresStatement(
        name: "try_entry_both_ways",
        sql: """
            SELECT $1::jsonb::text AS node_entry,
                   jsonb_strip_nulls(jsonb_build_object(
                       'try', $2::integer, 'node', $3::uuid,
                       'started_at', to_char($4::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                       'duration_ms', round($5::float8::numeric, 3),
                       'outcome', CASE WHEN $6::text <> 'pending' THEN $6::text WHEN $7::text IS NULL THEN 'released' ELSE 'retry' END,
                       'max_attempts', $8::integer, 'error_kind', $9::text, 'http_status', $10::integer,
                       'error', $7::text, 'excerpt', $11::text))::text AS sql_entry
            """, isPrepared: false)
}
