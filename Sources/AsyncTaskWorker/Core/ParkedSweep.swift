/// One page of the sweep of parked keyed attempts (schema v9): where it got to, and what it promoted.
///
/// The sweep is the safety net of parking: a keyed attempt inserted behind a pending predecessor waits outside
/// the claims' range until that predecessor's outcome promotes it; when both commit in the same moment neither
/// sees the other, and only the sweep finds the attempt.
struct ParkedSweep: Sendable, Equatable {
    /// The highest id the page looked at; nil when there was none above the cursor (the next page starts over).
    let lastID: Int64?
    /// How many parked attempts it promoted.
    let promoted: Int

    /// Where the next page starts: after this one, or from the beginning once a page came back empty.
    var nextCursor: Int64 { lastID ?? 0 }

    /// Rows looked at per page: one index range of the (small) parked index and one head check each.
    static let pageSize = 5000
}
