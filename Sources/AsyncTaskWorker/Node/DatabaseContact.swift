public import Foundation
import Synchronization

/// What the node knows of its own contact with the database, from its heartbeats (and its registration): since
/// when its statements have failed to reach the server, and when one last went through.
///
/// The admin server reads it through `NodeStatusProvider` (the admin module does not depend on this one), so
/// the outage page says when the node lost the database even when an operator opens it minutes later; the
/// admin server alone only knows when a page was first asked for.
public final class DatabaseContact: Sendable {
    /// What is known now.
    public struct State: Sendable, Hashable {
        /// When a heartbeat (or the registration) last went through.
        public var lastReached: Date?
        /// The first failure to reach the server since then; nil while the heartbeats go through.
        public var unreachableSince: Date?
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    /// A record with no contact yet; `now` is the wall clock the times are read from.
    init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// What is known now.
    public var current: State { state.withLock { $0 } }

    /// A statement reached the server: any outage is over.
    func reached() {
        let time = now()
        state.withLock { state in
            state.lastReached = time
            state.unreachableSince = nil
        }
    }

    /// A statement could not reach the server; the first failure since the last contact starts the outage.
    func unreachable() {
        let time = now()
        state.withLock { state in
            if state.unreachableSince == nil { state.unreachableSince = time }
        }
    }
}
