import Logging
import ServiceLifecycle

/// One periodic job of the node as a `Service`: runs `job` every `interval` (the first run one interval after
/// start) until cancelled. A failed run is logged and the next one comes at its time.
struct PeriodicJob: Service {
    /// The job's name, in the log line of a failed run.
    let name: String
    let interval: Duration
    let clock: any WorkerClock
    let logger: Logger
    let job: @Sendable () async throws -> Void

    func run() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            do {
                try await job()
            } catch {
                logger.warning("\(name) failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
