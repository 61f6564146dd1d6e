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
        // Time moves only while the job sleeps: on a loaded machine a run that has not gone back to sleep yet
        // would otherwise miss a step (a run at 23 s instead of 22 s).
        var moved = Duration.zero
        while runs.withLock({ $0.count }) < 3 && moved < .seconds(30) {
            #expect(await eventually { clock.sleepers == 1 })
            clock.advance(by: .seconds(1))
            moved += .seconds(1)
        }
        #expect(runs.withLock { $0 } == [.seconds(2), .seconds(12), .seconds(22)])
    }
}
