import Logging
import Synchronization

/// Applies the operator's pauses (`asynctask targets pause`, read from `async_task_targets` each heartbeat) to
/// this node: no call of a paused target starts from then on, and the attempts of paused targets claimed ahead and
/// never started go back at once with their claim's count undone, so they keep their tries. Calls in flight finish.
/// (The claim statement itself skips paused targets, so no node claims one after the pause committed.)
final class TargetPauses: Sendable {
    let driver: any WorkerDriver
    let capacity: CapacityTracker
    let leases: HeldLeases
    let claimDue: WakeSignal
    let metrics: WorkerMetrics
    let logger: Logger
    /// The targets paused at the last read, for the log line when they change.
    private let current = Mutex<Set<String>>([])

    init(driver: any WorkerDriver, capacity: CapacityTracker, leases: HeldLeases, claimDue: WakeSignal, metrics: WorkerMetrics, logger: Logger) {
        self.driver = driver
        self.capacity = capacity
        self.leases = leases
        self.claimDue = claimDue
        self.metrics = metrics
        self.logger = logger
    }

    /// Applies `paused`, every target paused now (a target missing from it is resumed).
    func apply(_ paused: Set<String>) async throws {
        let previous = current.withLock { state in
            defer { state = paused }
            return state
        }
        if paused != previous {
            logger.notice("paused targets changed", metadata: ["paused": "\(paused.sorted().joined(separator: ","))"])
        }
        let (unstarted, resumed) = capacity.pause(paused)
        if resumed {
            capacity.wake()
            claimDue.signal()
        }
        guard !unstarted.isEmpty else { return }
        // Not renewed from here on either way: when the release fails, their leases lapse and they run after.
        defer { leases.remove(unstarted) }
        let released = try await driver.releaseUnstarted(unstarted)
        metrics.count(.released, released)
        logger.info("paused targets: released the attempts claimed ahead and not started", metadata: ["released": "\(released)"])
    }
}
