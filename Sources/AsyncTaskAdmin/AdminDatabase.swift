import Foundation
import PostgresClient
import Synchronization

/// The admin server's way to the database: its own small pool, and a memory of whether the database answered,
/// so that pages can say since when it is unreachable while it is.
///
/// Every handler reaches the database through `withConnection`, which records the outcome: the first failure to
/// reach the server after a success starts an outage, the next success ends it. Errors that are not about
/// reaching the server (a bad query, a decoding error) change nothing.
final class AdminDatabase: Sendable {
    /// What the admin server knows of the database's reachability.
    struct Reachability: Sendable, Hashable {
        /// The last time a query went through.
        var lastSuccess: Date?
        /// The first failure since `lastSuccess`; nil while the database answers.
        var unreachableSince: Date?
        /// The latest failure's description (terse: no values, no password).
        var lastError: String?
    }

    /// Raised instead of the pool's error while the database cannot be reached, carrying what is known.
    struct Unreachable: Error, CustomStringConvertible {
        var reachability: Reachability

        var description: String { reachability.lastError ?? "the database cannot be reached" }
    }

    let pool: PostgresConnectionPool
    private let state: Mutex<Reachability>

    init(pool: PostgresConnectionPool) {
        self.pool = pool
        self.state = Mutex(Reachability())
    }

    /// What is known now.
    var reachability: Reachability { state.withLock { $0 } }

    /// Runs `body` on a pooled connection, recording whether the database could be reached.
    /// - Throws: `Unreachable` when the connection failed or broke (or none became free in time), else `body`'s error.
    func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            let value = try await pool.withConnection(body)
            state.withLock { state in
                state.lastSuccess = Date()
                state.unreachableSince = nil
            }
            return value
        } catch let error as PostgresError where Self.isUnreachable(error) {
            let now = Date()
            let known = state.withLock { state in
                if state.unreachableSince == nil { state.unreachableSince = now }
                state.lastError = error.description
                return state
            }
            throw Unreachable(reachability: known)
        }
    }

    /// True for the errors that mean "the server cannot be reached", as opposed to a query's own failure.
    static func isUnreachable(_ error: PostgresError) -> Bool {
        error.isConnectionLoss || error.code == .poolTimeout || error.code == .poolClosed
    }
}
