import Logging

/// Gives back the leases of attempts this node holds and never started, so other nodes (or this one, later)
/// run them at once: the prefetch buffer when the drain begins, attempts an outcome flush handed over after it
/// began, and the attempts claimed ahead for a target an operator paused.
///
/// One home for what a release does: the fenced statement (`WorkerDriver.releaseUnstarted`: due again, the
/// claim's count undone), the `released` count, the log line, and forgetting the leases. A release that fails
/// leaves the rows to their leases, which lapse since nothing renews them any more.
struct UnstartedRelease: Sendable {
    /// Why the attempts go back, for the log.
    enum Reason: String, Sendable {
        /// The drain began: the attempts claimed ahead of the slots (`node.prefetch`).
        case draining = "the node is draining"
        /// An outcome flush that overlapped the start of the drain leased them.
        case handedOverWhileDraining = "handed over by a flush as the node began draining"
        /// Claimed ahead for a target an operator paused.
        case paused = "their target was paused"
    }

    let driver: any WorkerDriver
    let leases: HeldLeases
    let metrics: WorkerMetrics
    let logger: Logger

    /// Releases `attempts`.
    func callAsFunction(_ attempts: [ClaimedAttempt], because reason: Reason) async {
        guard !attempts.isEmpty else { return }
        do {
            let released = try await driver.releaseUnstarted(attempts)
            metrics.count(.released, released)
            logger.info(
                "released attempts claimed and never started",
                metadata: ["released": .stringConvertible(released), "because": "\(reason.rawValue)"])
        } catch {
            logger.warning(
                "could not release attempts claimed and never started; their leases will lapse",
                metadata: ["error": "\(error)", "attempts": .stringConvertible(attempts.count), "because": "\(reason.rawValue)"])
        }
        leases.remove(attempts)
    }
}
