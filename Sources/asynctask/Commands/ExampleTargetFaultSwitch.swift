import Synchronization

/// The fault in force, shared by the request handlers.
final class ExampleTargetFaultSwitch: Sendable {
    private let fault = Mutex<ExampleTargetFault?>(nil)

    /// Puts `fault` in force (nil ends any fault).
    func set(_ fault: ExampleTargetFault?) {
        self.fault.withLock { $0 = fault }
    }

    /// The fault for a call arriving now, if one is in force.
    func current(now: ContinuousClock.Instant = .now) -> ExampleTargetFault? {
        fault.withLock { fault in
            guard let active = fault, active.until > now else {
                fault = nil
                return nil
            }
            return active
        }
    }
}
