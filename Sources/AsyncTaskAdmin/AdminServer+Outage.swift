import Foundation

extension AdminServer {
    /// What a page or `/api/*` answers while the database cannot be reached: since when, and what this node
    /// still knows on its own.
    struct OutageReport: Encodable {
        /// What is wrong.
        var error = "the database is unreachable"
        /// When the outage began: the earlier of the node's first failed heartbeat and this admin server's first
        /// failed request since their last contact.
        var unreachableSince: Date?
        /// The last time the node or this admin server reached the database.
        var lastSuccess: Date?
        /// The latest failure (terse: no values, no password).
        var lastError: String?
        /// This node as it knows itself.
        var node: NodeReport
    }

    /// The node's own state, which needs no database.
    struct NodeReport: Encodable {
        var id: String
        var draining: Bool
        var inFlight: Int
        var targets: [String]
        /// Outcomes kept in memory until the database is back; nil when unknown.
        var bufferedOutcomes: Int?
    }

    /// The report for `reachability`, with this node's figures now.
    func outageReport(_ reachability: AdminDatabase.Reachability) -> OutageReport {
        // The node's heartbeats noticed first unless a page was asked for in between: take the earlier start and
        // the later contact of the two views.
        OutageReport(
            unreachableSince: [reachability.unreachableSince, node.databaseUnreachableSince].compactMap { $0 }.min(),
            lastSuccess: [reachability.lastSuccess, node.databaseLastReached].compactMap { $0 }.max(), lastError: reachability.lastError,
            node: NodeReport(
                id: node.id.uuidString.lowercased(), draining: node.isDraining, inFlight: node.inFlight, targets: node.targets,
                bufferedOutcomes: node.bufferedOutcomes))
    }
}
