import AsyncTaskTargets
import Logging
import Synchronization

/// Applies the operator's controls per target (`asynctask targets pause|resume|set`, read from
/// `async_task_targets` each heartbeat) to this node.
///
/// A pause: no call of the target starts from then on, and its attempts claimed ahead and never started go back
/// at once with their claim's count undone, so they keep their tries; calls in flight finish. (The claim
/// statement itself skips paused targets, so no node claims one after the pause committed.) Limits: the stored
/// overrides take the place of the file's values, and the node routes every limited target's claims through the
/// claim function, claiming a rate-limited one ahead by at most 25 ms of its rate.
final class TargetControlApplier: Sendable {
    let driver: any WorkerDriver
    let capacity: CapacityTracker
    let leases: HeldLeases
    let claimDue: WakeSignal
    let metrics: WorkerMetrics
    let logger: Logger
    /// The limits of the node's config file, by target (targets without any are left out).
    let fileLimits: [String: TargetLimits]
    /// What was applied last, for the log lines when it changes.
    private let current = Mutex<(paused: Set<String>, limits: [String: TargetLimits])>(([], [:]))

    init(
        driver: any WorkerDriver, capacity: CapacityTracker, leases: HeldLeases, claimDue: WakeSignal, metrics: WorkerMetrics, logger: Logger,
        fileLimits: [String: TargetLimits] = [:]
    ) {
        self.driver = driver
        self.capacity = capacity
        self.leases = leases
        self.claimDue = claimDue
        self.metrics = metrics
        self.logger = logger
        self.fileLimits = fileLimits.filter(\.value.isLimited)
        capacity.setLimits(self.fileLimits)
        current.withLock { $0.limits = self.fileLimits }
    }

    /// The limits in force for `controls`: the file's, with the stored overrides in their place.
    func limits(for controls: TargetControlState) -> [String: TargetLimits] {
        var limits = fileLimits
        for (target, override) in controls.overrides { limits[target] = (fileLimits[target] ?? .none).overridden(by: override) }
        return limits.filter(\.value.isLimited)
    }

    /// Applies `controls`: every target paused now (a target missing from it is resumed) and every stored limit.
    func apply(_ controls: TargetControlState) async throws {
        let limits = limits(for: controls)
        for (target, limit) in fileLimits where limit.circuit != nil {
            metrics.circuitOpen(target: target, controls.overrides[target]?.circuitNotClosed ?? false)
        }
        let previous = current.withLock { state in
            defer { state = (controls.paused, limits) }
            return state
        }
        if controls.paused != previous.paused {
            logger.notice("paused targets changed", metadata: ["paused": "\(controls.paused.sorted().joined(separator: ","))"])
        }
        if limits != previous.limits {
            capacity.setLimits(limits)
            logger.notice("cluster-wide limits changed", metadata: ["limits": "\(Self.describe(limits))"])
            capacity.wake()
            claimDue.signal()
        }
        let (unstarted, resumed) = capacity.pause(controls.paused)
        if resumed {
            capacity.wake()
            claimDue.signal()
        }
        await UnstartedRelease(driver: driver, leases: leases, metrics: metrics, logger: logger)(unstarted, because: .paused)
    }

    /// `A: rate 200/s burst 20 global_concurrency 10; B: …` for the log.
    static func describe(_ limits: [String: TargetLimits]) -> String {
        limits.sorted { $0.key < $1.key }.map { target, limit in
            var parts: [String] = []
            if let rate = limit.rate { parts.append("rate \(rate)/s") }
            if let burst = limit.burst { parts.append("burst \(burst)") }
            if let global = limit.globalConcurrency { parts.append("global_concurrency \(global)") }
            if let perKey = limit.keyConcurrency { parts.append("key_concurrency \(perKey)") }
            if let circuit = limit.circuit { parts.append("circuit \(circuit.failures) failures") }
            if limit.circuitNotClosed { parts.append("circuit not closed") }
            return "\(target): \(parts.joined(separator: " "))"
        }.joined(separator: "; ")
    }
}
