import Logging
import PostgresClient

/// The worker's driver over a libpq connection pool: each verb is one statement, kept as a named constant next
/// to the Swift that runs it (`AttemptClaimer` for claims, `OutcomeWriter` for outcomes, `NodeRegistry` for the
/// node's row, leases and reaping).
struct PostgresWorkerDriver: WorkerDriver {
    let pool: PostgresConnectionPool
    let claimer: AttemptClaimer
    let registry: NodeRegistry
    let outcomes: OutcomeWriter
    let logger: Logger
    /// Told of each circuit transition a flush made (target and transition).
    var circuitTransitions: @Sendable (String, CircuitTransition) -> Void = { _, _ in }

    func register() async throws {
        try await registry.register(on: pool)
    }

    func claim(_ plan: ClaimPlan) async throws -> ClaimResult {
        try await pool.withConnection { try await claimer.claim(plan, on: $0) }
    }

    func releaseUnstarted(_ attempts: [ClaimedAttempt]) async throws -> Int {
        try await pool.withConnection { try await claimer.release(attempts, on: $0) }
    }

    func record(_ outcomes: [AttemptOutcome], handover: ClaimPlan) async throws -> RecordResult {
        let result = try await self.outcomes.write(outcomes, handover: handover, on: pool)
        guard !self.outcomes.circuits.isEmpty else { return result }
        let accepted = result.accepted
        // The outcomes are written: a failed report must not make the recorder write them again. A lost report
        // only delays the circuit by the calls it counted.
        do {
            for (target, transition) in try await self.outcomes.reportCircuits(outcomes, accepted: accepted, on: pool) {
                circuitTransitions(target, transition)
            }
        } catch {
            logger.warning("cannot report calls to the targets' circuits", metadata: ["error": "\(error)"])
        }
        return result
    }

    func renewLeases(_ leases: [HeldLeases.Lease], by renewal: LeaseRenewal) async throws -> Int {
        try await registry.renewLeases(leases, by: renewal, on: pool)
    }

    func heartbeat(inFlight: Int, counters: [String: Int], status: NodeStatus) async throws -> NodeStatus? {
        try await registry.heartbeat(inFlight: inFlight, counters: counters, status: status, on: pool)
    }

    func reapDeadNodes() async throws -> (nodes: [String], released: Int) {
        try await registry.reapDeadNodes(on: pool)
    }

    func releaseLeases() async throws -> Int {
        try await registry.releaseLeases(on: pool)
    }

    func setStatus(_ status: NodeStatus) async throws {
        try await registry.setStatus(status, on: pool)
    }

    func promoteStrandedParked(after: Int64, limit: Int) async throws -> ParkedSweep {
        try await registry.promoteStrandedParked(after: after, limit: limit, on: pool)
    }

    func unservedTargets() async throws -> [String: Int] {
        try await registry.unservedTargets(on: pool)
    }

    func targetControls() async throws -> TargetControlState {
        try await registry.targetControls(on: pool)
    }

    func isUnreachable(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isConnectionLoss || error.code == .poolTimeout
    }

    func isRefusal(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return !error.isConnectionLoss && error.code != .poolTimeout
    }
}
