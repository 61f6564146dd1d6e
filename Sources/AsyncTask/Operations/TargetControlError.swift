/// Why a target control did not apply.
public enum TargetControlError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No live node serves the target, it has no pending attempts and no control row: most likely a typo.
    case unknownTarget(name: String, known: [String])

    public var description: String {
        switch self {
        case .unknownTarget(let name, let known):
            var text =
                "unknown target \(name): no live node serves it and it has no pending attempts (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            if let near = NearestName.nearest(to: name, in: known) { text += "; did you mean \(near)? (target names are case-sensitive)" }
            return text
        }
    }
}
