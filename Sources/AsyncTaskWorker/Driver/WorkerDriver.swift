/// The one seam between a worker node and its database: every round trip the node's loops make goes through
/// these verbs (as swift-jobs' `JobQueueDriver`). `PostgresWorkerDriver` runs the SQL; unit tests drive the node's
/// loops against an in-memory driver.
///
/// The hot path is `claim`, `record` and `renewLeases`: one statement each, whatever the batch size.
protocol WorkerDriver: Sendable {
    /// Registers the node (its row `active`, its served targets).
    func register() async throws

    /// Claims up to `plan.total` due attempts, at most each cap's `limit` of its target, most urgent first,
    /// leased to this node; the targets of `plan.limits` within their cluster-wide limits (the result names
    /// those a limit held back).
    func claim(_ plan: ClaimPlan) async throws -> ClaimResult

    /// Gives back attempts claimed and never started, due again at once with the claim's count undone; returns
    /// how many were given back.
    func releaseUnstarted(_ attempts: [ClaimedAttempt]) async throws -> Int

    /// Writes a batch of outcomes, each fenced by its lease; returns the ids of the attempts whose outcome was
    /// accepted (the others were re-claimed or changed meanwhile) and the attempts it leased to this node: the
    /// next attempt of each ordering key the outcomes pass on, at most `handover`'s limit of each target.
    func record(_ outcomes: [AttemptOutcome], handover: ClaimPlan) async throws -> RecordResult

    /// Extends those of `leases` that `renewal` finds due; returns how many.
    func renewLeases(_ leases: [HeldLeases.Lease], by renewal: LeaseRenewal) async throws -> Int

    /// Reports the node alive with `status`; returns the status its row had before (nil when the row vanished).
    func heartbeat(inFlight: Int, counters: [String: Int], status: NodeStatus) async throws -> NodeStatus?

    /// Marks other nodes silent for `dead_after` dead and releases their leases.
    func reapDeadNodes() async throws -> (nodes: [String], released: Int)

    /// Gives back every lease this node still holds (when stopping); returns how many.
    func releaseLeases() async throws -> Int

    /// Sets the node's status.
    func setStatus(_ status: NodeStatus) async throws

    /// Targets with due attempts that no live node serves, with their counts.
    func unservedTargets() async throws -> [String: Int]

    /// Promotes the parked keyed attempts above id `after` (one page of `limit`) that head their key: the rare
    /// ones whose predecessor's outcome and whose insert committed in the same moment.
    func promoteStrandedParked(after: Int64, limit: Int) async throws -> ParkedSweep

    /// What an operator stored for the targets this node serves: pauses (`asynctask targets pause`) and limit
    /// overrides (`asynctask targets set`).
    func targetControls() async throws -> TargetControlState

    /// Whether `error` means the database is unreachable (the node keeps its work and retries).
    func isUnreachable(_ error: any Error) -> Bool

    /// Whether `error` means the database refused the statement itself (retrying the same batch cannot help).
    func isRefusal(_ error: any Error) -> Bool
}
