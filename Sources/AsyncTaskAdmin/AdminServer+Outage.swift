import Foundation

extension AdminServer {
    /// What a page or `/api/*` answers while the database cannot be reached: since when, and what this node
    /// still knows on its own.
    struct OutageReport: Encodable {
        /// What is wrong.
        var error = "the database is unreachable"
        /// The first failed contact after the last successful one (this admin server's view).
        var unreachableSince: Date?
        /// The last time this admin server reached the database.
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
        OutageReport(
            unreachableSince: reachability.unreachableSince, lastSuccess: reachability.lastSuccess, lastError: reachability.lastError,
            node: NodeReport(
                id: node.id.uuidString.lowercased(), draining: node.isDraining, inFlight: node.inFlight, targets: node.targets,
                bufferedOutcomes: node.bufferedOutcomes))
    }
}
