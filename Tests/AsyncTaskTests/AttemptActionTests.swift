import AsyncTask
import AsyncTaskCore
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("AttemptAction: one transition table for every caller")
struct AttemptActionTests {
    @Test("the table: retry from failed/expired to pending, expire and fail from pending; what each status offers")
    func table() {
        #expect(AttemptAction.retry.appliesTo == [.failed, .expired] && AttemptAction.retry.resultingStatus == .pending)
        #expect(AttemptAction.expire.appliesTo == [.pending] && AttemptAction.expire.resultingStatus == .expired)
        #expect(AttemptAction.fail.appliesTo == [.pending] && AttemptAction.fail.resultingStatus == .failed)
        #expect(AttemptAction.available(from: .pending) == [.expire, .fail])
        #expect(AttemptAction.available(from: .failed) == [.retry])
        #expect(AttemptAction.available(from: .expired) == [.retry])
        #expect(AttemptAction.available(from: .succeeded) == [])
        #expect(AttemptAction(rawValue: "retry") == .retry && AttemptAction(rawValue: "purge") == nil)
        // The refusal message operators read, worded from the table.
        #expect(
            AttemptActionError.invalidState(id: 7, action: .retry, status: .pending).description
                == "cannot retry attempt 7: it is pending (retry applies to failed or expired attempts)")
        #expect(
            AttemptActionError.invalidState(id: 7, action: .fail, status: .succeeded).description
                == "cannot fail attempt 7: it is succeeded (fail applies to pending attempts)")
    }

    @Test("one attempt and a bulk batch go through the same statement: only rows in an allowed status change")
    func singleIsBulkOfOne() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            var ids: [Int64] = []
            for _ in 0..<4 {
                ids.append(
                    try await queue.enqueue(try Attempt(target: "OrderClient", method: "fulfill", argumentsJSON: Data("{}".utf8)), on: connection))
            }
            try await AttemptActions().fail(ids[0], reason: "customer cancelled", on: connection)
            // Bulk retry over two pending and one failed attempt changes only the failed one.
            let retried = try await BulkAttemptActions().apply(.retry(extraTries: 2), ids: [ids[0], ids[1], ids[2]], on: connection)
            #expect(retried == [ids[0]])
            #expect(try await AttemptActions().find(ids[0], on: connection)?.status == .pending)
            // Bulk expire of all four (all pending now), in batches of one.
            let expired = try await BulkAttemptActions(batchSize: 1).apply(.expire, ids: ids, on: connection)
            #expect(expired.sorted() == ids)
            #expect(try await BulkAttemptActions().count(.retry(extraTries: 1), ids: ids, on: connection) == 4)
            // A single action outside the table's rule is refused with the current status.
            await #expect(throws: AttemptActionError.invalidState(id: ids[3], action: .fail, status: .expired)) {
                try await AttemptActions().apply(.fail(reason: nil), to: ids[3], on: connection)
            }
            let record = try await AttemptActions().apply(.action(.retry, extraTries: 3), to: ids[3], on: connection)
            #expect(record.status == .pending && record.maxAttempts == record.numAttempts + 3)
            // A filter naming only statuses the action does not apply to matches nothing (not every status).
            try await AttemptActions().expire(ids[3], on: connection)
            let pendingOnly = AttemptFilter(statuses: [.pending])
            #expect(try await BulkAttemptActions().count(.retry(extraTries: 1), filter: pendingOnly, on: connection) == 0)
            #expect(try await BulkAttemptActions().apply(.retry(extraTries: 1), filter: pendingOnly, on: connection) == [])
            #expect(try await BulkAttemptActions().count(.retry(extraTries: 1), filter: AttemptFilter(), on: connection) == 4)
        }
    }

    @Test("the filter's criteria select the same rows whichever are set")
    func filterCriteria() async throws {
        try await withMigratedDatabase { _, connection throws in
            let queue = AttemptQueue()
            func enqueue(_ target: String, _ method: String) async throws -> Int64 {
                try await queue.enqueue(try Attempt(target: target, method: method, argumentsJSON: Data("{}".utf8)), on: connection)
            }
            let a = try await enqueue("OrderClient", "fulfill")
            let b = try await enqueue("OrderClient", "refund")
            let c = try await enqueue("Mailer", "fulfill")
            let hook = try await enqueue(Schema.webhookTarget, "attempt.failed")
            try await AttemptActions().fail(b, on: connection)
            let queries = AttemptQueries()
            func ids(_ filter: AttemptFilter) async throws -> [Int64] {
                try await queries.list(filter, limit: 10, on: connection).map(\.id)
            }
            #expect(try await ids(AttemptFilter()) == [c, b, a])
            #expect(try await ids(AttemptFilter(includeInternal: true)) == [hook, c, b, a])
            #expect(try await ids(AttemptFilter(target: Schema.webhookTarget)) == [hook])
            #expect(try await ids(AttemptFilter(statuses: [.pending])) == [c, a])
            #expect(try await ids(AttemptFilter(statuses: [.pending], method: "fulfill")) == [c, a])
            #expect(try await ids(AttemptFilter(target: "OrderClient", method: "fulfill")) == [a])
            #expect(try await ids(AttemptFilter(beforeID: c)) == [b, a])
            #expect(try await ids(AttemptFilter(since: Date().addingTimeInterval(3600))) == [])
            #expect(try await ids(AttemptFilter(phase: .scheduled)) == [])
            #expect(try await ids(AttemptFilter(phase: .retrying)) == [])
            #expect(try await queries.count(AttemptFilter(statuses: [.failed, .pending]), on: connection) == 3)
            #expect(try await queries.ids(AttemptFilter(), after: a, limit: 1, on: connection) == [b])
        }
    }
}
