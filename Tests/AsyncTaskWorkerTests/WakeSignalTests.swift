import Synchronization
import Testing

@testable import AsyncTaskWorker

/// The claim loops' wake-up flag: `signal()` wakes every waiter, `signalOne()` one (a NOTIFY needs one claim).
@Suite("Wake signal")
struct WakeSignalTests {
    /// How many waiters woke.
    final class Woken: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// Starts `count` waiters (an hour's timeout on a manual clock) and returns once all wait.
    private func waiters(_ count: Int, on signal: WakeSignal, clock: ManualClock, woken: Woken, in group: inout TaskGroup<Void>) async {
        for _ in 0..<count {
            group.addTask {
                await signal.wait(timeout: .seconds(3600))
                woken.add()
            }
        }
        // Each waiter sleeps on the clock for its timeout once it waits.
        _ = await eventually { clock.sleepers == count }
    }

    @Test("signalOne wakes exactly one of several waiters; signal wakes the rest")
    func signalOneWakesOne() async {
        let clock = ManualClock()
        let signal = WakeSignal(clock: clock)
        let woken = Woken()
        await withTaskGroup(of: Void.self) { group in
            await waiters(3, on: signal, clock: clock, woken: woken, in: &group)
            signal.signalOne()
            #expect(await eventually { woken.value == 1 })
            try? await Task.sleep(for: .milliseconds(20))
            #expect(woken.value == 1)
            signal.signal()
            #expect(await eventually { woken.value == 3 })
        }
    }

    @Test("signalOne with nobody waiting makes the next wait return at once")
    func signalOneIsKept() async {
        let clock = ManualClock()
        let signal = WakeSignal(clock: clock)
        signal.signalOne()
        let start = ContinuousClock.now
        await signal.wait(timeout: .seconds(3600))
        #expect(start.duration(to: .now) < .seconds(5))
    }
}
