import AsyncTask
import Foundation
import PostgresClient
import Prometheus
import Synchronization

/// The cluster's queue figures as Prometheus gauges, refreshed from the database when `/metrics` is scraped
/// (at most once per `refresh`), beside the worker's own metrics in the same registry.
///
/// Every node reports the same cluster-wide values (aggregate them with `max by (target)`). A target whose
/// work is gone drops to 0 instead of keeping its last value. This is the only place the queue gauges are set.
final class QueueMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let refresh: Duration
    private let deadAfter: Duration
    private struct State {
        var refreshedAt: ContinuousClock.Instant?
        var targets: Set<String> = []
    }
    private let state = Mutex(State())

    init(registry: PrometheusCollectorRegistry, refresh: Duration, deadAfter: Duration) {
        self.registry = registry
        self.refresh = refresh
        self.deadAfter = deadAfter
    }

    /// Reads the figures (unless read within `refresh`) and sets the gauges.
    func update(database: AdminDatabase) async throws {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            if let last = state.refreshedAt, now - last < refresh { return false }
            state.refreshedAt = now
            return true
        }
        guard due else { return }
        // Internal targets too: a growing @webhook backlog is worth an alert.
        let (stats, nodes, paused) = try await database.withConnection { connection in
            (
                try await ClusterStats().perTarget(includeInternal: true, on: connection),
                try await ClusterNodes(deadAfter: deadAfter).list(on: connection),
                try await TargetControls(deadAfter: deadAfter).pausedStates(on: connection)
            )
        }
        let previous = state.withLock { state in
            let previous = state.targets
            state.targets = Set(stats.map(\.target))
            return previous
        }
        for figures in stats {
            let labels = [("target", figures.target)]
            registry.makeGauge(descriptor: Self.pending, labels: labels).set(Double(figures.pending))
            registry.makeGauge(descriptor: Self.due, labels: labels).set(Double(figures.due))
            registry.makeGauge(descriptor: Self.running, labels: labels).set(Double(figures.running))
            registry.makeGauge(descriptor: Self.lag, labels: labels).set(figures.lagSeconds)
            registry.makeGauge(descriptor: Self.rate, labels: labels).set(figures.ratePerSecond)
            registry.makeGauge(descriptor: Self.waitingForKey, labels: labels).set(Double(figures.waitingForKey))
            registry.makeGauge(descriptor: Self.keyWait, labels: labels).set(figures.keyWaitSeconds)
            registry.makeGauge(descriptor: Self.blockedKeys, labels: labels).set(Double(figures.blockedKeys))
        }
        for target in previous.subtracting(stats.map(\.target)) {
            let labels = [("target", target)]
            for descriptor in [Self.pending, Self.due, Self.running, Self.lag, Self.rate, Self.waitingForKey, Self.keyWait, Self.blockedKeys] {
                registry.makeGauge(descriptor: descriptor, labels: labels).set(0.0)
            }
        }
        registry.makeGauge(descriptor: Self.nodesLive).set(Double(nodes.filter(\.live).count))
        // Every target an operator has steered, paused or resumed (a resumed one reads 0, not a stale 1).
        for (target, isPaused) in paused {
            registry.makeGauge(descriptor: Self.paused, labels: [("target", target)]).set(isPaused ? 1.0 : 0.0)
        }
    }

    // The gauges, named in full in `metricName` (no unit suffix is added). The help text stays empty here: the
    // registry aborts when one name is registered with two help texts, and `MetricsHelp` adds every family's
    // `# HELP` line when `/metrics` is rendered, these included. Computed: the descriptor type is not Sendable.
    static var pending: MetricNameDescriptor { descriptor("asynctask_queue_pending") }
    static var due: MetricNameDescriptor { descriptor("asynctask_queue_due") }
    static var running: MetricNameDescriptor { descriptor("asynctask_queue_running") }
    static var lag: MetricNameDescriptor { descriptor("asynctask_queue_lag_seconds") }
    static var rate: MetricNameDescriptor { descriptor("asynctask_target_rate_per_second") }
    static var waitingForKey: MetricNameDescriptor { descriptor("asynctask_queue_waiting_for_key") }
    static var keyWait: MetricNameDescriptor { descriptor("asynctask_queue_key_wait_seconds") }
    static var blockedKeys: MetricNameDescriptor { descriptor("asynctask_keys_blocked") }
    static var nodesLive: MetricNameDescriptor { descriptor("asynctask_nodes_live") }
    static var paused: MetricNameDescriptor { descriptor("asynctask_target_paused") }

    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: "")
    }
}
