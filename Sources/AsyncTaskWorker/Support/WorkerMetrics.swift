import CoreMetrics
import Synchronization

/// The node's metrics, through swift-metrics (the process picks the backend: Prometheus on the admin port, or
/// none), plus a tally of the same counts that the heartbeat writes into the node's row. Every metric name
/// starts with `asynctask_`.
final class WorkerMetrics: Sendable {
    /// The counted events.
    enum Event: String, CaseIterable, Sendable {
        case claimed, succeeded, failed, retried, released
        case fencedRejects = "fenced_rejects"
        /// Attempts an outcome flush leased to this node (the next of an ordering key it passed on): also
        /// counted as claimed.
        case handedOver = "handed_over"
    }

    private let counters: [Event: Counter]
    private let tally = Mutex<[Event: Int]>([:])
    /// One timer per target, made once: every call records into it, and making one asks the backend's factory.
    private let callDurations = Mutex<[String: Timer]>([:])
    /// Claims a cluster-wide limit cut short, per target (made once each, as the timers).
    private let throttledClaims = Mutex<[String: Counter]>([:])
    let inFlight = Gauge(label: "asynctask_in_flight")
    let claimBatchSize = Recorder(label: "asynctask_claim_batch_size", aggregate: true)
    /// How long each claim statement took, sent to answered: a claim that grows slow (a deep backlog behind one
    /// ordering key, a bloated index) shows here before it shows as lag.
    let claimDuration = Timer(label: "asynctask_claim_duration_seconds", preferredDisplayUnit: .seconds)

    init() {
        var counters: [Event: Counter] = [:]
        for event in Event.allCases {
            let label = event == .fencedRejects ? "asynctask_fenced_rejects_total" : "asynctask_attempts_\(event.rawValue)_total"
            counters[event] = Counter(label: label)
        }
        self.counters = counters
    }

    /// Counts `count` occurrences of `event`.
    func count(_ event: Event, _ count: Int = 1) {
        guard count > 0 else { return }
        counters[event]?.increment(by: count)
        tally.withLock { $0[event, default: 0] += count }
    }

    /// The counts so far, keyed by event name (for the nodes table).
    var totals: [String: Int] {
        tally.withLock { tally in
            Dictionary(uniqueKeysWithValues: Event.allCases.map { ($0.rawValue, tally[$0] ?? 0) })
        }
    }

    /// Counts a claim for `target` that its cluster-wide limit (`rate`, `global_concurrency`) cut short.
    func throttled(target: String) {
        throttledClaims.withLock { counters in
            if let counter = counters[target] { return counter }
            let counter = Counter(label: "asynctask_claims_throttled_total", dimensions: [("target", target)])
            counters[target] = counter
            return counter
        }.increment()
    }

    /// Counts a transition of `target`'s circuit made by this node.
    func circuitTransition(target: String, to transition: CircuitTransition) {
        Counter(label: "asynctask_circuit_transitions_total", dimensions: [("target", target), ("to", transition.rawValue)]).increment()
    }

    /// Sets whether `target`'s circuit is open or half-open (1) or closed (0), as the node last read it.
    func circuitOpen(target: String, _ open: Bool) {
        Gauge(label: "asynctask_circuit_open", dimensions: [("target", target)]).record(open ? 1 : 0)
    }

    /// Call duration per target.
    func callDuration(target: String) -> Timer {
        callDurations.withLock { timers in
            if let timer = timers[target] { return timer }
            let timer = Timer(label: "asynctask_call_duration_seconds", dimensions: [("target", target)], preferredDisplayUnit: .seconds)
            timers[target] = timer
            return timer
        }
    }
}
