/// A node's status as stored in `async_task_nodes.status`.
enum NodeStatus: String, Sendable {
    /// Claiming and running attempts.
    case active
    /// Shutting down: claims nothing more, lets its calls finish.
    case draining
    /// Stopped cleanly, its leases given back.
    case stopped
    /// Declared dead by another node (its heartbeat went silent); its leases were released.
    case dead
}
