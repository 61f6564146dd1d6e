/// A target's circuit breaker, shared by the cluster (`targets.<name>.circuit`): after ``failures`` retryable
/// failures in a row (from all nodes together, within ``window``) the circuit opens and no node calls the target
/// for ``cooldown``; waiting attempts keep their tries. Then ``probes`` calls decide: all succeed and it closes,
/// one fails and it opens again.
public struct CircuitSettings: Sendable, Hashable {
    /// The default `circuit.failures`.
    public static let defaultFailures = 20
    /// The default `circuit.window`.
    public static let defaultWindow = Duration.seconds(30)
    /// The default `circuit.cooldown`.
    public static let defaultCooldown = Duration.seconds(30)
    /// The default `circuit.probes`.
    public static let defaultProbes = 3

    /// Retryable failures in a row that open the circuit (a success starts the count again).
    public let failures: Int
    /// A run of failures that began longer ago than this starts again from the next failure.
    public let window: Duration
    /// How long an open circuit stays open before probe calls.
    public let cooldown: Duration
    /// Probe calls of a half-open circuit; all of them must succeed to close it.
    public let probes: Int

    /// Validates the settings.
    /// - Throws: ``TargetConfigurationError`` for target `target`, naming the bad `circuit.*` key.
    public init(
        failures: Int = CircuitSettings.defaultFailures, window: Duration = CircuitSettings.defaultWindow,
        cooldown: Duration = CircuitSettings.defaultCooldown, probes: Int = CircuitSettings.defaultProbes, target: String
    ) throws(TargetConfigurationError) {
        guard failures >= 1 else {
            throw TargetConfigurationError(
                target: target, field: "circuit.failures", code: .outOfRange, reason: "must be at least 1 (got \(failures))")
        }
        guard window > .zero else {
            throw TargetConfigurationError(
                target: target, field: "circuit.window", code: .nonPositiveDuration, reason: "must be positive (got \(window))")
        }
        guard cooldown > .zero else {
            throw TargetConfigurationError(
                target: target, field: "circuit.cooldown", code: .nonPositiveDuration, reason: "must be positive (got \(cooldown))")
        }
        guard probes >= 1 else {
            throw TargetConfigurationError(target: target, field: "circuit.probes", code: .outOfRange, reason: "must be at least 1 (got \(probes))")
        }
        self.failures = failures
        self.window = window
        self.cooldown = cooldown
        self.probes = probes
    }
}
