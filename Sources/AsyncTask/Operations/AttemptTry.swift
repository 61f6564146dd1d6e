public import Foundation
public import PostgresClient

/// One try of an attempt as its history (`async_task_attempts.tries`, schema v5) keeps it: who ran it, when,
/// for how long, and how it ended.
///
/// Only the newest `Schema.keptTries` tries are kept; a try whose node died before recording an outcome is
/// absent, so the numbers may have gaps.
public struct AttemptTry: Sendable, Hashable, Codable {
    /// How a try ended.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        /// The target accepted the call.
        case succeeded
        /// A retryable failure with tries left: the attempt waits out a backoff.
        case retry
        /// A permanent failure, or the last try failed.
        case failed
        /// Not run to an outcome (its node was stopping): the lease was given back.
        case released
    }

    /// The try number (`num_attempts` when it was claimed).
    public var number: Int
    /// The node that ran it.
    public var node: String?
    /// When the node began the try.
    public var startedAt: Date?
    /// How long the try took, in milliseconds.
    public var durationMs: Double?
    /// How it ended.
    public var outcome: Outcome
    /// The `max_attempts` in force for this try (the attempt's own, else its target's).
    public var maxAttempts: Int?
    /// The error's kind (`http_status`, `timeout`, `connect`…), for failures.
    public var errorKind: String?
    /// The target's HTTP status, when it answered.
    public var httpStatus: Int?
    /// The error message, for failures.
    public var error: String?
    /// A bounded excerpt of the target's response to a failed call.
    public var excerpt: String?

    enum CodingKeys: String, CodingKey {
        case number = "try"
        case node, startedAt, durationMs, outcome, maxAttempts, errorKind, httpStatus, error, excerpt
    }

    /// Creates a try (for tests and views).
    public init(
        number: Int, node: String? = nil, startedAt: Date? = nil, durationMs: Double? = nil, outcome: Outcome, maxAttempts: Int? = nil,
        errorKind: String? = nil, httpStatus: Int? = nil, error: String? = nil, excerpt: String? = nil
    ) {
        self.number = number
        self.node = node
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.outcome = outcome
        self.maxAttempts = maxAttempts
        self.errorKind = errorKind
        self.httpStatus = httpStatus
        self.error = error
        self.excerpt = excerpt
    }

    /// The columns `init(row:)` reads: the elements of `tries` as typed rows (`jsonb_to_recordset`), so no JSON
    /// is parsed in Swift. Select them `FROM async_task_attempts a CROSS JOIN LATERAL \(recordset)`.
    public static let recordset = """
        jsonb_to_recordset(coalesce(a.tries, '[]'::jsonb)) AS t("try" integer, node text, started_at timestamptz, duration_ms float8,
            outcome text, max_attempts integer, error_kind text, http_status integer, error text, excerpt text)
        """

    /// Decodes a row of `recordset`'s columns.
    /// - Throws: `PostgresError` (`.decoding`), also for an unknown outcome.
    public init(row: PostgresRow) throws(PostgresError) {
        number = try row.decode(Int.self, "try")
        node = try row.decode(String?.self, "node")
        startedAt = try row.decode(Date?.self, "started_at")
        durationMs = try row.decode(Double?.self, "duration_ms")
        let outcomeText = try row.decode(String.self, "outcome")
        guard let outcome = Outcome(rawValue: outcomeText) else {
            throw PostgresError(code: .decoding, message: "try \(number) holds unknown outcome '\(outcomeText)'")
        }
        self.outcome = outcome
        maxAttempts = try row.decode(Int?.self, "max_attempts")
        errorKind = try row.decode(String?.self, "error_kind")
        httpStatus = try row.decode(Int?.self, "http_status")
        error = try row.decode(String?.self, "error")
        excerpt = try row.decode(String?.self, "excerpt")
    }
}
