import ArgumentParser
import AsyncTask
import Foundation

/// `asynctask nodes`: the worker nodes, live or not, with heartbeat age, in-flight calls, leases and targets.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List worker nodes: live or not, heartbeat age, in-flight calls, leases held, targets served.")
    @OptionGroup var database: DatabaseOptions

    @OptionGroup var liveness: LivenessOptions

    @Flag(help: "Include nodes stopped or dead more than an hour ago.")
    var all = false

    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let deadAfter = try await liveness.resolve(database)
        let nodes = try await database.withConnection { try await ClusterNodes(deadAfter: deadAfter).list(all: all, on: $0) }
        if json {
            try OutputFormat.printJSON(nodes)
            return
        }
        OutputFormat.printTable(
            header: ["NODE", "HOST", "PID", "STATE", "STATUS", "HEARTBEAT", "IN FLIGHT", "LEASES", "TARGETS", "VERSION"],
            rows: nodes.map { node in
                [
                    node.id.uuidString.lowercased(), node.hostname, String(node.pid), node.live ? "live" : "not live", node.status,
                    ElapsedTimeText.describe(node.heartbeatAgeSeconds) + " ago", "\(node.inFlight)/\(node.concurrency)", String(node.leases),
                    node.targets.joined(separator: ","), node.version,
                ]
            })
    }
}
