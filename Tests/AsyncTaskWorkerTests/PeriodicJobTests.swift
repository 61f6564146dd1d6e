import Logging
import Synchronization
import Testing

@testable import AsyncTaskWorker

@Suite("Periodic jobs")
struct PeriodicJobTests {
    @Test("a periodic job runs first after its first delay, then once per interval, and keeps running after a failed run")
    func cadence() async {
        let clock = ManualClock()
        let start = clock.now
        let runs = Mutex<[Duration]>([])
        struct Failure: Error {}
        let job = PeriodicJob(
            name: "test job", firstRunAfter: .seconds(2), interval: .seconds(10), clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            runs.withLock { $0.append(clock.now - start) }
            throw Failure()
        }
        let task = Task { await job.run() }
        defer { task.cancel() }
        #expect(await eventually { clock.sleepers == 1 })
        #expect(await clock.advance(step: .seconds(1), upTo: .seconds(30)) { runs.withLock { $0.count } == 3 })
        #expect(runs.withLock { $0 } == [.seconds(2), .seconds(12), .seconds(22)])
    }
}
