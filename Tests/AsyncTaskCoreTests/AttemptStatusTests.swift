import AsyncTaskCore
import Testing

struct AttemptStatusTests {
    /// The seed gem's names, stored in `async_task_attempts.status`.
    @Test func rawValuesAreTheStoredNames() {
        let table: [(AttemptStatus, String)] = [(.pending, "pending"), (.succeeded, "succeeded"), (.failed, "failed"), (.expired, "expired")]
        #expect(table.map(\.0) == AttemptStatus.allCases)
        for (status, stored) in table {
            #expect(status.rawValue == stored && status.description == stored)
            #expect(AttemptStatus(rawValue: stored) == status)
        }
        #expect(AttemptStatus(rawValue: "Pending") == nil)
    }
}
