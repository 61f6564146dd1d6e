/// Why a row's `method_args`, stored by the async_task gem as YAML, has no JSON form.
///
/// The description names the place inside the arguments (`items[2].at`) and the problem, never a value, because
/// it is recorded as the attempt's `last_error` and logged.
public struct GemArgumentsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where in the arguments the problem is (`order.items[2]`); empty for the document as a whole.
    public let path: String
    /// What is wrong, and where that is not obvious, what to do.
    public let reason: String

    /// Creates an error at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        path.isEmpty ? "the gem's YAML arguments: \(reason)" : "the gem's YAML arguments at \(path): \(reason)"
    }
}
