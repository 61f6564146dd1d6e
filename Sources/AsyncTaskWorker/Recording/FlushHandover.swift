/// How an outcome flush hands the next attempt of each ordering key it passes on to this node: the room reserved
/// for them before the flush, and what becomes of the attempts it leased (`RecordResult.handedOver`).
///
/// The key's next attempt then costs one row update instead of two (a promotion, then some node's claim) and
/// starts without waiting for a claim round trip; the room comes out of the same bounds as a claim's
/// (`CapacityTracker.reserveHandover`), so a node never holds more than `node.concurrency` + `node.prefetch`.
struct FlushHandover: Sendable {
    /// Reserves room for up to that many attempts per target.
    var reserve: @Sendable (_ wanted: [String: Int]) -> ClaimPlan
    /// Ends the reservation with the attempts the flush leased (none when it failed) and when the flush was sent
    /// (their leases began no earlier).
    var commit: @Sendable (_ reservation: ClaimPlan, _ leased: [ClaimedAttempt], _ sentAt: ContinuousClock.Instant) async -> Void

    /// A node's handover: room from `capacity`; leased attempts join `leases` (renewed like claimed ones) and the
    /// buffer, and a claim loop is woken to start those that fit the caps. Attempts leased by a flush that
    /// overlapped the start of the drain are given back at once by `release`, as the drain gives back the rest of
    /// the buffer.
    static func node(capacity: CapacityTracker, leases: HeldLeases, claimDue: WakeSignal, release: UnstartedRelease) -> FlushHandover {
        FlushHandover(
            reserve: { wanted in capacity.reserveHandover(wanted) },
            commit: { reservation, leased, sentAt in
                let stamped = leased.map { attempt in
                    var attempt = attempt
                    attempt.claimedAt = sentAt
                    return attempt
                }
                leases.insert(stamped)
                if capacity.commitHandover(reservation, leased: stamped) > 0 { claimDue.signalOne() }
                await release(capacity.closedClaims(), because: .handedOverWhileDraining)
            })
    }
}
