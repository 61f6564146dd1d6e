/// Why a target control did not apply.
public enum TargetControlError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No live node serves the target, it has no pending attempts and no control row: most likely a typo.
    case unknownTarget(name: String, known: [String])
    /// A limit given to `set` is out of range, or nothing was given.
    case invalidLimit(field: String, reason: String)
    /// `unblock` named an ordering key that no failed head holds; `blocked` lists some keys that are blocked.
    case notBlocked(target: String, key: String, blocked: [String])

    public var description: String {
        switch self {
        case .unknownTarget(let name, let known):
            var text =
                "unknown target \(name): no live node serves it and it has no pending attempts (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            if let near = NearestName.nearest(to: name, in: known) { text += "; did you mean \(near)? (target names are case-sensitive)" }
            return text
        case .invalidLimit(let field, let reason):
            return "invalid \(field): \(reason)"
        case .notBlocked(let target, let key, let blocked):
            return
                "ordering key \(key) of target \(target) is not blocked (blocked keys of \(target): \(blocked.isEmpty ? "none" : blocked.joined(separator: ", ")))"
        }
    }
}
