import Foundation
import Synchronization
import TestSupport

/// Plays the faults of a chaos run against a `ChaosCluster` and keeps a log of each one with its time window,
/// which the checker uses to explain every duplicate delivery.
///
/// Until the run's end it repeats, in a shuffled order each round with a few seconds between faults: `kill -9`
/// of a random node (one holding leases, and a replacement node), `SIGSTOP` of a random node holding leases
/// for longer than its lease (then
/// `SIGCONT`), PostgreSQL stopped for longer than `dead_after` and started again, a burst of 503s and a burst of hanging calls from the target. The webhook
/// receiver goes down for 20 s at 15 % and at 55 % of the run.
final class ChaosMonkey: Sendable {
    /// One fault and when it happened (Unix seconds, the clock the target's record and PostgreSQL use too).
    struct Event: Sendable, CustomStringConvertible {
        enum Kind: String, Sendable, CaseIterable {
            case kill = "kill -9 a node"
            case stop = "SIGSTOP a node past its lease"
            case postgresRestart = "PostgreSQL down and restarted"
            case webhookDown = "webhook receiver down 20 s"
            case unavailable = "target 503 burst"
            case hang = "target timeout burst"
        }

        let kind: Kind
        /// The node the fault hit (kill, stop).
        let node: ChaosCluster.Node?
        let start: Double
        let end: Double

        var description: String {
            "\(kind.rawValue)\(node.map { " (\($0.name))" } ?? "")" + String(format: ", %.1f s", end - start)
        }
    }

    /// How long a stopped node stays stopped: past its lease.
    static let stopFor = ChaosCluster.lease + .seconds(2)
    static let burstFor = Duration.seconds(5)
    static let webhookDownFor = Duration.seconds(20)
    /// How long PostgreSQL stays down in a restart: longer than `dead_after` (every node misses heartbeats for
    /// longer than the reaper allows), shorter than the time left on any renewed lease (half a lease at least).
    static let postgresDownFor = ChaosCluster.deadAfter + .milliseconds(500)

    private let cluster: ChaosCluster
    private let log = Mutex<[Event]>([])

    init(cluster: ChaosCluster) {
        self.cluster = cluster
    }

    /// The faults played so far.
    var events: [Event] { log.withLock { $0 } }

    /// Plays faults until `duration` has passed (a fault never starts unless it can end in time).
    func run(for duration: Duration, seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let end = ContinuousClock.now + duration
        let seconds = Double(duration.components.seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for fraction in seconds >= 60 ? [0.15, 0.55] : [0.15] {
                group.addTask { [self] in
                    try await Task.sleep(for: .milliseconds(Int(seconds * fraction * 1000)))
                    try await webhookOutage()
                }
            }
            var kinds: [Event.Kind] = []
            while true {
                if kinds.isEmpty { kinds = [.kill, .stop, .postgresRestart, .unavailable, .hang].shuffled(using: &random) }
                let pause = Duration.milliseconds(Int.random(in: 2000...4000, using: &random))
                let kind = kinds.removeFirst()
                let length: Duration =
                    switch kind {
                    case .stop: Self.stopFor
                    case .unavailable, .hang: Self.burstFor
                    case .postgresRestart: Self.postgresDownFor + .seconds(2)
                    case .kill, .webhookDown: .seconds(2)
                    }
                guard ContinuousClock.now + pause + length < end else { break }
                try await Task.sleep(for: pause)
                try await play(kind, random: &random)
            }
            try await group.waitForAll()
        }
    }

    private func play(_ kind: Event.Kind, random: inout SeededRandom) async throws {
        let start = Date().timeIntervalSince1970
        switch kind {
        case .kill:
            guard let node = await cluster.nodesHoldingLeases().randomElement(using: &random) else { return }
            node.process.send(SIGKILL)
            let killed = Date().timeIntervalSince1970
            _ = await node.process.waitForExit(timeout: .seconds(10))
            record(Event(kind: kind, node: node, start: killed, end: killed))
            try cluster.startNode()
        case .stop:
            guard let node = await cluster.nodesHoldingLeases().randomElement(using: &random) else { return }
            node.process.send(SIGSTOP)
            let stopped = Date().timeIntervalSince1970
            try await Task.sleep(for: Self.stopFor)
            node.process.send(SIGCONT)
            record(Event(kind: kind, node: node, start: stopped, end: Date().timeIntervalSince1970))
        case .postgresRestart:
            try await cluster.server.control("stop", mode: "fast")
            try await Task.sleep(for: Self.postgresDownFor)
            try await cluster.server.control("start")
            record(Event(kind: kind, node: nil, start: start, end: Date().timeIntervalSince1970))
        case .unavailable, .hang:
            var body: [String: Any] = ["fault": kind == .hang ? "hang" : "unavailable", "seconds": Double(Self.burstFor.components.seconds)]
            if kind == .hang { body["hang_ms"] = Int((ChaosCluster.targetTimeout + .seconds(1)).components.seconds * 1000) }
            try await cluster.setTargetFault(body)
            try await Task.sleep(for: Self.burstFor)
            try await cluster.setTargetFault(["fault": "none"])
            record(Event(kind: kind, node: nil, start: start, end: Date().timeIntervalSince1970))
        case .webhookDown:
            try await webhookOutage()
        }
    }

    private func webhookOutage() async throws {
        await cluster.killReceiver()
        let start = Date().timeIntervalSince1970
        try await Task.sleep(for: Self.webhookDownFor)
        try await cluster.startReceiver()
        record(Event(kind: .webhookDown, node: nil, start: start, end: Date().timeIntervalSince1970))
    }

    private func record(_ event: Event) {
        print("chaos: \(event)")
        log.withLock { $0.append(event) }
    }
}
