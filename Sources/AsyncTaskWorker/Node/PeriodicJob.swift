import Logging
import ServiceLifecycle

/// One periodic job of the node as a `Service`: runs `job` first `firstRunAfter` the start, then every
/// `interval`, until cancelled. A failed run is logged and the next one comes at its time.
struct PeriodicJob: Service {
    /// The job's name, in the log line of a failed run.
    let name: String
    /// How long after the start the first run comes.
    let firstRunAfter: Duration
    let interval: Duration
    let clock: any WorkerClock
    let logger: Logger
    let job: @Sendable () async throws -> Void

    func run() async {
        var pause = firstRunAfter
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: pause)
            } catch {
                return
            }
            pause = interval
            do {
                try await job()
            } catch {
                logger.warning("\(name) failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
