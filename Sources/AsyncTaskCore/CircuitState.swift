/// The state of a target's circuit breaker, shared by the cluster in `async_task_targets.circuit_state`
/// (schema v10), with the column's values as raw values.
public enum CircuitState: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Calls run; retryable failures in a row are counted.
    case closed
    /// No node claims the target until the cooldown has passed; waiting attempts keep their tries.
    case open
    /// At most `probes` calls are claimed; their outcomes close the circuit or open it again.
    case halfOpen = "half_open"

    public var description: String { rawValue }
}
