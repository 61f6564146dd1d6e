import AsyncTaskCore
import Logging
import ServiceLifecycle

/// The node's heartbeat as a `Service`: every `node.heartbeat` it reports the node alive (registering again
/// when its row vanished), renews the leases it holds that `LeaseRenewal` finds due, and reaps silent nodes once
/// the `ReapingGate` allows. The three share one loop because reaping is judged by whether this node's own
/// heartbeats and renewals go through.
struct NodeLiveness: Service {
    let interval: Duration
    let driver: any WorkerDriver
    let leases: HeldLeases
    let renewal: LeaseRenewal
    /// What the heartbeat reports: calls in flight, counters, and whether the node drains.
    let report: @Sendable () -> (inFlight: Int, counters: [String: Int], status: NodeStatus)
    let logger: Logger
    let clock: any WorkerClock
    /// Where the node keeps what its heartbeats say of the database's reachability (for the outage page).
    let contact: DatabaseContact
    private let deadAfter: Duration

    init(
        interval: Duration, deadAfter: Duration, driver: any WorkerDriver, leases: HeldLeases, renewal: LeaseRenewal,
        report: @escaping @Sendable () -> (inFlight: Int, counters: [String: Int], status: NodeStatus), logger: Logger,
        clock: any WorkerClock, contact: DatabaseContact = DatabaseContact()
    ) {
        self.interval = interval
        self.deadAfter = deadAfter
        self.driver = driver
        self.leases = leases
        self.renewal = renewal
        self.report = report
        self.logger = logger
        self.clock = clock
        self.contact = contact
    }

    func run() async {
        var gate = ReapingGate(deadAfter: deadAfter, startedAt: clock.now)
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            do {
                try await beat(&gate)
            } catch {
                gate.heartbeatFailed(at: clock.now)
                if driver.isUnreachable(error) { contact.unreachable() }
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func beat(_ gate: inout ReapingGate) async throws {
        let now = report()
        let previous = try await driver.heartbeat(inFlight: now.inFlight, counters: now.counters, status: now.status)
        contact.reached()
        if previous == nil {
            logger.warning("this node's row vanished; registering again")
            try await driver.register()
        } else if previous == .dead {
            logger.warning(
                "another node declared this node dead (it was paused or cut off); its leases were released and its late outcomes will be fenced out")
        }
        let renewed = try await driver.renewLeases(leases.snapshot, by: renewal)
        if renewed > 0 { logger.debug("renewed leases", metadata: ["count": .stringConvertible(renewed)]) }
        let action = gate.heartbeatSucceeded(at: clock.now)
        if let unreachable = action.reachableAgainAfter {
            logger.notice("database reachable again", metadata: ["unreachable_seconds": .stringConvertible(unreachable.seconds.rounded(.down))])
        }
        guard action.reap else { return }
        let reaped = try await driver.reapDeadNodes()
        if !reaped.nodes.isEmpty {
            logger.warning(
                "marked silent nodes dead and released their leases",
                metadata: [
                    "nodes": "\(reaped.nodes.joined(separator: ", "))", "released": .stringConvertible(reaped.released),
                ])
        }
    }
}
