import AsyncTaskCore
import Logging
import Testing

@testable import AsyncTaskWorker

/// With several `node.flushers`, a flush overlaps the one under way only once that one has run for two flush
/// intervals: quick flushes go one at a time with fuller batches, a slow one (a keyed drain's) is overlapped.
@Suite("Outcome flushes that overlap a slow flush")
struct FlushOverlapTests {
    private static func outcome(_ id: Int64) -> AttemptOutcome {
        AttemptOutcome(
            attempt: ClaimedAttempt(
                id: id, target: "A", methodName: "m", methodArgs: "{}", encryptor: nil, attemptNumber: 1, maxAttempts: nil, idempotenceToken: nil),
            disposition: .succeeded, error: nil, errorKind: nil, httpStatus: nil)
    }

    /// Runs a recorder with `flushers` flush loops and a 10 ms interval on a manual clock while `body` runs.
    private func withRecorder(flushers: Int, _ body: (OutcomeRecorder, InMemoryWorkerDriver, ManualClock) async -> Void) async {
        let clock = ManualClock()
        let driver = InMemoryWorkerDriver(clock: clock)
        let recorder = OutcomeRecorder(
            driver: driver, clock: clock, flushInterval: .milliseconds(10), flushBatch: 100, flushers: flushers, maxBuffered: 1000,
            metrics: WorkerMetrics(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), onFlushed: { _ in })
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await recorder.run() }
            await body(recorder, driver, clock)
            recorder.stop()
            clock.advance(by: .seconds(2))
            await group.waitForAll()
        }
    }

    /// Moves the clock by `duration` in 1 ms steps, letting the recorder's loops run between them.
    private func advance(_ clock: ManualClock, by duration: Duration) async {
        var moved = Duration.zero
        while moved < duration {
            clock.advance(by: .milliseconds(1))
            moved += .milliseconds(1)
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Holds the driver's record calls at a gate, adds one outcome and lets the first flush take it (at 10 ms);
    /// returns the gate that lets that flush finish.
    private func startSlowFlush(_ recorder: OutcomeRecorder, _ driver: InMemoryWorkerDriver, _ clock: ManualClock) async -> Gate {
        let slow = Gate()
        driver.holdRecords(at: slow)
        recorder.add(Self.outcome(1))
        await advance(clock, by: .milliseconds(11))
        #expect(await eventually { driver.recordCalls == 1 })
        return slow
    }

    @Test("two flushers: the second flush waits until the first has run 20 ms, then overlaps it")
    func overlapsASlowFlush() async {
        await withRecorder(flushers: 2) { recorder, driver, clock in
            let slow = await startSlowFlush(recorder, driver, clock)
            // An outcome arriving while the first flush (taken at 10 ms) is under way waits for it: 19 ms into
            // that flush, still one.
            recorder.add(Self.outcome(2))
            await advance(clock, by: .milliseconds(18))
            #expect(driver.recordCalls == 1)
            // Past 20 ms the first flush counts as slow and the second overlaps it.
            await advance(clock, by: .milliseconds(3))
            #expect(await eventually { driver.recordCalls == 2 })
            #expect(recorder.backlog == 2)
            slow.open()
            #expect(await eventually { recorder.backlog == 0 })
        }
    }

    @Test("one flusher never overlaps: the next flush waits for the slow one")
    func oneFlusherWaits() async {
        await withRecorder(flushers: 1) { recorder, driver, clock in
            let slow = await startSlowFlush(recorder, driver, clock)
            recorder.add(Self.outcome(2))
            await advance(clock, by: .milliseconds(40))
            #expect(driver.recordCalls == 1)
            slow.open()
            #expect(await eventually { recorder.backlog == 0 })
            #expect(driver.recordCalls == 2)
        }
    }
}
