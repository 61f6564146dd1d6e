import AsyncTaskTargets

/// The seam between the executor and the network: makes one call of a target and classifies its result.
/// `TargetCaller` (libcurl) in production; unit tests inject a scripted caller.
protocol TargetCalling: Sendable {
    /// Calls `target` with `call`; never throws (every failure is a `CallOutcome`).
    func call(_ call: TargetCall, to target: TargetConfiguration) async -> CallOutcome
}

extension TargetCaller: TargetCalling {}
