import AsyncTask
import AsyncTaskCore
import Foundation
import Logging
import PostgresClient
import Synchronization

/// Records outcomes in batches: one fenced UPDATE per flush, every `flushInterval` or `flushBatch` outcomes
/// (DESIGN §8).
///
/// Every write is fenced by `locked_by = this node AND num_attempts = the claimed number AND status =
/// 'pending'`: a node whose lease was lost (and re-claimed elsewhere, or expired by an operator) cannot
/// overwrite the newer state. Rejected writes are counted and logged, never retried. While the database is
/// unreachable outcomes wait in memory (bounded) and are written once it is back.
final class OutcomeRecorder: Sendable {
    // Planned for each flush (not prepared): a generic plan cannot know the arrays' length and picks a nested
    // loop that re-reads the unnest for every row (quadratic: 1.5 s for a batch of 700 in `make bench`); the
    // custom plan hash-joins the batch against its rows, found through `a.id = ANY($2)`. Planning costs ~1 ms
    // per flush of hundreds of outcomes.
    // The try history (schema v5) rides in the same UPDATE: one object appended to `tries`, the oldest dropped
    // once it holds $13 (`Schema.keptTries`); the outcome name follows from the status and the error (pending
    // with an error is a retry, without one a released lease). jsonb_strip_nulls keeps a success's entry small.
    static let record = PostgresStatement(name: "record_outcomes", sql: """
        WITH o AS (
            SELECT * FROM unnest($2::bigint[], $3::integer[], $4::text[], $5::bigint[], $6::text[], $7::integer[], $8::text[], $9::text[],
                                 $10::timestamptz[], $11::float8[], $12::integer[])
                AS o(id, num_attempts, status, delay_ms, error, http_status, error_kind, excerpt, started_at, duration_ms, max_attempts)
        )
        UPDATE async_task_attempts a
        SET status = o.status,
            completed_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END,
            available_at = CASE WHEN o.status = 'pending' THEN now() + o.delay_ms * interval '1 millisecond' ELSE a.available_at END,
            locked_by = NULL,
            last_error = coalesce(o.error, a.last_error),
            last_error_at = CASE WHEN o.error IS NULL THEN a.last_error_at ELSE now() END,
            last_http_status = coalesce(o.http_status, a.last_http_status),
            last_error_kind = CASE WHEN o.error IS NULL THEN a.last_error_kind ELSE o.error_kind END,
            last_response_excerpt = CASE WHEN o.error IS NULL THEN a.last_response_excerpt ELSE o.excerpt END,
            updated_at = now(),
            tries = CASE WHEN jsonb_array_length(coalesce(a.tries, '[]')) >= $13 THEN a.tries - 0 ELSE coalesce(a.tries, '[]') END
                || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                    'try', o.num_attempts, 'node', $1::uuid,
                    'started_at', to_char(o.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'duration_ms', round(o.duration_ms::numeric, 3),
                    'outcome', CASE WHEN o.status <> 'pending' THEN o.status WHEN o.error IS NULL THEN 'released' ELSE 'retry' END,
                    'max_attempts', o.max_attempts, 'error_kind', o.error_kind, 'http_status', o.http_status,
                    'error', o.error, 'excerpt', o.excerpt)))
        FROM o
        WHERE a.id = ANY($2::bigint[]) AND a.id = o.id
          AND a.locked_by = $1 AND a.num_attempts = o.num_attempts AND a.status = 'pending'
        RETURNING a.id
        """, isPrepared: false)

    private struct State {
        var buffer: [AttemptOutcome] = []
        /// Outcomes taken by a flush and not yet written (part of the backlog).
        var writing = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let pool: PostgresConnectionPool
    private let nodeID: UUID
    private let flushInterval: Duration
    private let flushBatch: Int
    private let maxBuffered: Int
    private let metrics: WorkerMetrics
    private let logger: Logger
    /// Called after each flush, so the claimer can use freed capacity at once.
    private let onFlushed: @Sendable () -> Void
    /// Called with the attempts of each batch that is done with: written, fenced out or dropped (not one put
    /// back after an outage), so the node stops renewing their leases.
    private let onSettled: @Sendable ([ClaimedAttempt]) -> Void

    init(
        pool: PostgresConnectionPool, nodeID: UUID, flushInterval: Duration, flushBatch: Int, maxBuffered: Int,
        metrics: WorkerMetrics, logger: Logger, onFlushed: @escaping @Sendable () -> Void,
        onSettled: @escaping @Sendable ([ClaimedAttempt]) -> Void = { _ in }
    ) {
        self.pool = pool
        self.nodeID = nodeID
        self.flushInterval = flushInterval
        self.flushBatch = flushBatch
        self.maxBuffered = maxBuffered
        self.metrics = metrics
        self.logger = logger
        self.onFlushed = onFlushed
        self.onSettled = onSettled
    }

    /// Outcomes waiting to be written.
    var backlog: Int { state.withLock { $0.buffer.count + $0.writing } }

    /// True while the backlog is at its bound: the node must stop claiming until it drains.
    var isFull: Bool { backlog >= maxBuffered }

    /// Queues an outcome for the next flush.
    func add(_ outcome: AttemptOutcome) {
        let count = state.withLock { state in
            state.buffer.append(outcome)
            return state.buffer.count
        }
        if count == 1 || count >= flushBatch { wake.signal() }
    }

    /// Ends `run()` after its current flush; `flushRemaining` writes what is left.
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    /// Flushes until `stop()` or cancellation (call `flushRemaining` to write what is left).
    func run() async {
        var failures = 0
        while !Task.isCancelled && !isStopped {
            if backlog == 0 { await wake.wait(timeout: .seconds(1)) }
            if Task.isCancelled || isStopped { break }
            // Let a few more outcomes join unless a full batch is already waiting.
            if (backlog < flushBatch) && (flushInterval > .zero) { try? await Task.sleep(for: flushInterval) }
            do {
                // Full batches go back to back; a partial one waits for the next interval to fill. (Flushing
                // whatever arrived during the last flush made batches of one round trip's outcomes: a commit for
                // every few attempts at high rates.)
                repeat { try await flushOnce() } while backlog >= flushBatch
                failures = 0
            } catch {
                failures += 1
                let delay = Duration.milliseconds(min(5000, 100 << min(failures, 6)))
                logger.warning("cannot record outcomes; keeping them in memory and retrying", metadata: [
                    "error": "\(error)", "backlog": "\(backlog)", "retry_in": "\(delay)",
                ])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Writes everything still buffered, retrying connection failures until `deadline`.
    /// - Returns: the number of outcomes that could not be written (their leases will expire and the attempts
    ///   run again).
    func flushRemaining(until deadline: ContinuousClock.Instant) async -> Int {
        while backlog > 0 {
            do {
                try await flushOnce()
            } catch {
                if ContinuousClock.now >= deadline { break }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        return backlog
    }

    // A batch leaves the buffer when a flush takes it (and counts as `writing` until written), so `run()`'s
    // flush and `flushRemaining`'s, which overlap while a node stops, never take or remove the same outcomes.
    private func flushOnce() async throws {
        // Take the batch out of the buffer, so that concurrent flushes (the loop and a final flushRemaining)
        // write disjoint batches; a batch that could not be written goes back to the front.
        let batch = state.withLock { state in
            let batch = Array(state.buffer.prefix(flushBatch))
            state.buffer.removeFirst(batch.count)
            state.writing += batch.count
            return batch
        }
        guard !batch.isEmpty else {
            // Another flush is writing the rest: wait for it rather than spin.
            if backlog > 0 { try? await Task.sleep(for: .milliseconds(10)) }
            return
        }
        let accepted: Set<Int64>
        do {
            accepted = try await write(batch)
            state.withLock { $0.writing -= batch.count }
        } catch let error as PostgresError where !error.isConnectionLoss && error.code != .poolTimeout {
            // Not an outage: the batch itself is refused. Drop it rather than block every later outcome; the
            // leases expire and the attempts run again (at-least-once).
            logger.error("outcome batch refused by the database; dropping it, its attempts will run again after their leases", metadata: [
                "error": "\(error)", "outcomes": "\(batch.count)",
            ])
            state.withLock { $0.writing -= batch.count }
            onSettled(batch.map(\.attempt))
            throw error
        } catch {
            // An outage: keep the batch, first in line for the next flush.
            state.withLock { state in
                state.writing -= batch.count
                state.buffer.insert(contentsOf: batch, at: 0)
            }
            throw error
        }
        onSettled(batch.map(\.attempt))
        for outcome in batch where !accepted.contains(outcome.attempt.id) {
            metrics.count(.fencedRejects)
            logger.warning("outcome rejected by the lease fence: the attempt was re-claimed or changed meanwhile", metadata: [
                "attempt_id": "\(outcome.attempt.id)", "target": "\(outcome.attempt.target)",
                "attempt_number": "\(outcome.attempt.attemptNumber)",
            ])
        }
        for outcome in batch where accepted.contains(outcome.attempt.id) {
            switch outcome.disposition {
            case .succeeded: metrics.count(.succeeded)
            case .failed: metrics.count(.failed)
            case .retry: metrics.count(.retried)
            case .release: metrics.count(.released)
            }
        }
        onFlushed()
    }

    private func write(_ batch: [AttemptOutcome]) async throws -> Set<Int64> {
        var ids: [Int64] = [], numbers: [Int32] = [], statuses: [String] = [], delays: [Int64?] = []
        var errors: [String?] = [], statusCodes: [Int32?] = [], kinds: [String?] = [], excerpts: [String?] = []
        var startedAts: [Date?] = [], durations: [Double?] = [], maxAttempts: [Int32?] = []
        for outcome in batch {
            startedAts.append(outcome.startedAt)
            durations.append(outcome.duration.map { $0.seconds * 1000 })
            maxAttempts.append(outcome.maxAttempts.map { Int32(clamping: $0) })
            ids.append(outcome.attempt.id)
            numbers.append(Int32(clamping: outcome.attempt.attemptNumber))
            statuses.append(outcome.disposition.status.rawValue)
            switch outcome.disposition {
            case .succeeded, .failed: delays.append(nil)
            case .retry(let delay): delays.append(delay.milliseconds)
            case .release: delays.append(0)
            }
            errors.append(outcome.error)
            kinds.append(outcome.errorKind?.rawValue)
            excerpts.append(outcome.excerpt.flatMap { $0.isEmpty ? nil : $0 })
            statusCodes.append(outcome.httpStatus.map { Int32(clamping: $0) })
        }
        let rows = try await pool.query(Self.record, [
            nodeID, ids, numbers, statuses, delays, errors, statusCodes, kinds, excerpts, startedAts, durations, maxAttempts,
            Int32(Schema.keptTries),
        ])
        var accepted = Set<Int64>()
        for row in rows { accepted.insert(try row.decode(Int64.self, "id")) }
        return accepted
    }
}
