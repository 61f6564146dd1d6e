/// How a target that opted in to batched delivery (`targets.<name>.batch`) gathers attempts into one request:
/// at most ``max`` attempts of one method per request, and a request waits at most ``linger`` after its first
/// attempt for others to join.
public struct BatchSettings: Sendable, Hashable {
    /// The default `batch.max`.
    public static let defaultMax = 100
    /// The default `batch.linger`.
    public static let defaultLinger = Duration.milliseconds(5)
    /// The largest `batch.max`: a request of more attempts grows past what a target reads in one go, and one
    /// failed request would retry that many attempts at once.
    public static let maxUpperBound = 1000
    /// The longest `batch.linger`: every attempt of a gathering holds its lease and its slot while it waits.
    public static let lingerUpperBound = Duration.seconds(1)

    /// The most attempts in one request.
    public let max: Int
    /// The longest a request waits, from its first attempt, for others to join before it is sent.
    public let linger: Duration

    /// Validates the settings.
    /// - Throws: ``TargetConfigurationError`` for target `target`, naming `batch.max` or `batch.linger`.
    public init(max: Int = BatchSettings.defaultMax, linger: Duration = BatchSettings.defaultLinger, target: String) throws(TargetConfigurationError)
    {
        guard (1...Self.maxUpperBound).contains(max) else {
            throw TargetConfigurationError(
                target: target, field: "batch.max", code: .outOfRange, reason: "must be between 1 and \(Self.maxUpperBound) (got \(max))")
        }
        guard linger >= .zero else {
            throw TargetConfigurationError(target: target, field: "batch.linger", code: .outOfRange, reason: "must not be negative (got \(linger))")
        }
        guard linger <= Self.lingerUpperBound else {
            throw TargetConfigurationError(
                target: target, field: "batch.linger", code: .outOfRange, reason: "must be at most \(Self.lingerUpperBound) (got \(linger))")
        }
        self.max = max
        self.linger = linger
    }
}
