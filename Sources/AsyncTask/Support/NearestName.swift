/// Suggests the known name nearest to a mistyped one (edit distance), for errors and warnings that say
/// "did you mean …?": misspelled `ASYNCTASK_*` variables, a target name no node serves.
public enum NearestName {
    /// The candidate closest to `name` by Levenshtein distance (case-insensitive, so a miscased name is
    /// nearest to its proper spelling), or nil when none is close: the distance must be at most a third of
    /// the longer name's length (at least 2), so unrelated names are never suggested; `maxDistance` lowers
    /// that bound where only a typo of the candidate should match.
    public static func nearest(to name: String, in candidates: some Sequence<String>, maxDistance: Int = .max) -> String? {
        let target = Array(name.lowercased().unicodeScalars)
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != name {
            let other = Array(candidate.lowercased().unicodeScalars)
            let limit = min(maxDistance, max(2, max(target.count, other.count) / 3))
            let distance = Self.distance(target, other)
            guard distance <= limit else { continue }
            if best == nil || distance < best!.distance || (distance == best!.distance && candidate < best!.name) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// Levenshtein distance: insertions, deletions and substitutions, each costing one.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
