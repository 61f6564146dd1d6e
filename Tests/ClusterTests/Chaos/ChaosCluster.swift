import Foundation
import PostgresClient
import Synchronization
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The processes of a chaos run on top of a `Cluster` (its database on a private PostgreSQL, the recording
/// example target started with `--control`): worker nodes with short leases and a webhook, and the webhook
/// receiver on a fixed port so it can go away and come back at the same address.
final class ChaosCluster: Sendable {
    /// One worker process and the node id it runs under (set in its config, so leases name it).
    struct Node: Sendable {
        let name: String
        let id: String
        let process: ManagedProcess
    }

    /// Lease timing of every node: a node SIGSTOPped for longer than `lease` loses its leases.
    static let lease = Duration.seconds(10)
    static let deadAfter = Duration.seconds(4)
    static let heartbeat = Duration.milliseconds(500)
    /// The target timeout; a hanging call is held longer than this.
    static let targetTimeout = Duration.seconds(3)
    static let webhookSecret = "chaos-webhook-secret-0123456789"

    let cluster: Cluster
    let server: PostgresServer
    let webhookRecord: URL
    private let state = Mutex<(nodes: [Node], started: Int, receiver: ManagedProcess?, receiverPort: Int)>(([], 0, nil, 0))

    init(cluster: Cluster, server: PostgresServer) {
        self.cluster = cluster
        self.server = server
        self.webhookRecord = cluster.directory.appendingPathComponent("webhooks.jsonl")
    }

    /// Every node started so far (killed ones included).
    var nodes: [Node] { state.withLock { $0.nodes } }

    /// Nodes whose process is running (a stopped one counts as running).
    var liveNodes: [Node] { nodes.filter { $0.process.isRunning } }

    /// Running nodes that hold leases now (calls in flight), so a kill or a stop hits work; all running nodes
    /// when none does or the database cannot say.
    func nodesHoldingLeases() async -> [Node] {
        let live = liveNodes
        let statement = PostgresStatement(
            name: "chaos_holders",
            sql: """
                SELECT DISTINCT locked_by::text AS node FROM async_task_attempts WHERE locked_by IS NOT NULL AND status = 'pending'
                """)
        guard let rows = try? await cluster.pool.query(statement) else { return live }
        let holders = Set(rows.compactMap { try? $0.decode(String.self, "node") })
        let busy = live.filter { holders.contains($0.id) }
        return busy.isEmpty ? live : busy
    }

    /// The receiver's port (fixed once it first listened).
    var receiverPort: Int { state.withLock { $0.receiverPort } }

    /// Starts the webhook receiver: on a free port the first time, on the same port afterwards.
    func startReceiver() async throws {
        let port = receiverPort
        let receiver = try ManagedProcess(
            name: "receiver-\(UUID().uuidString.prefix(4))",
            arguments: ["example-target", "--port", String(port), "--webhook-record", webhookRecord.path], directory: cluster.directory)
        let output = try await receiver.waitForOutput("listening on ")
        guard let line = output.split(separator: "\n").first(where: { $0.contains("listening on ") }),
            let chosen = line.split(separator: ":").last.flatMap({ Int($0) })
        else { throw TestSetupError("the webhook receiver printed no port") }
        state.withLock {
            $0.receiver = receiver
            $0.receiverPort = chosen
        }
    }

    /// Kills the webhook receiver at once.
    func killReceiver() async {
        guard let receiver = state.withLock({ $0.receiver }) else { return }
        receiver.send(SIGKILL)
        _ = await receiver.waitForExit(timeout: .seconds(10))
    }

    /// Starts a worker node with a config of its own (node id, short lease, the webhook).
    @discardableResult
    func startNode() throws -> Node {
        let (index, port) = state.withLock { state in
            state.started += 1
            return (state.started, state.receiverPort)
        }
        let name = "node\(index)"
        let id = UUID().uuidString.lowercased()
        let config = cluster.directory.appendingPathComponent("\(name).yaml")
        let yaml = """
            database_url: \(cluster.database.url)
            node:
              id: \(id)
              concurrency: 64
              heartbeat: \(Self.config(Self.heartbeat))
              dead_after: \(Self.config(Self.deadAfter))
              lease: \(Self.config(Self.lease))
              poll_interval: 200ms
              shutdown_grace: 2s
            targets:
              OrderClient:
                url: \(cluster.targetURL)
                timeout: \(Self.config(Self.targetTimeout))
                max_attempts: 40
                backoff: { base: 100ms, max: 2s }
                concurrency: 32
            webhook:
              url: http://127.0.0.1:\(port)/webhook
              secret: \(Self.webhookSecret)
              events: [attempt.error, attempt.failed]
              timeout: 2s
              backoff: { base: 200ms, max: 2s }
              max_attempts: 10000
            log: { format: json, level: info }
            admin: { listen: "127.0.0.1:0" }
            """
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let process = try ManagedProcess(name: name, arguments: ["worker", "--config", config.path], directory: cluster.directory)
        let node = Node(name: name, id: id, process: process)
        state.withLock { $0.nodes.append(node) }
        return node
    }

    /// Switches the target's fault (`{"fault": "unavailable" | "hang" | "none", …}`) through `POST /_control`.
    func setTargetFault(_ body: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/_control"))!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw TestSetupError("the target refused \(body): \(String(decoding: data, as: UTF8.self))")
        }
    }

    /// A duration as the config file writes it (`500ms`).
    static func config(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)ms"
    }

    /// Lets every stopped process go on and kills them all (the `Cluster` drops the database afterwards).
    func shutdown() async {
        for node in nodes where node.process.isRunning {
            node.process.send(SIGCONT)
            node.process.send(SIGKILL)
        }
        await killReceiver()
    }
}
