import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("LISTEN / NOTIFY")
struct ListenerTests {
    static let notify = PostgresStatement(name: "notify", sql: "SELECT pg_notify($1, $2)")

    @Test("notifications arrive as events; after the listening backend is killed it reconnects and listens again")
    func receivesAndReconnects() async throws {
        try await TestDatabase.with { database throws in
            var configuration = database.configuration
            configuration.set("application_name", "listener-under-test")
            let listener = PostgresListener(
                configuration: configuration, channels: ["jobs", "Other Channel"], reconnectDelayLimit: .milliseconds(200))
            let run = Task { await listener.run() }
            var events = listener.events.makeAsyncIterator()
            #expect(await events.next() == .listening)

            try await database.withConnection { sender throws in
                try await sender.query(Self.notify, ["jobs", "one"])
                try await sender.query(Self.notify, ["Other Channel", "two"])
            }
            guard case .notification(let first) = await events.next(), case .notification(let second) = await events.next() else {
                Issue.record("expected two notifications")
                return
            }
            #expect(first.channel == "jobs" && first.payload == "one")
            #expect(second.channel == "Other Channel" && second.payload == "two")

            _ = try await database.withConnection { admin throws in
                try await admin.query(
                    PostgresStatement(
                        name: "kill_listener",
                        sql: """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'listener-under-test'
                            """))
            }
            #expect(await events.next() == .listening)
            try await database.withConnection { sender throws in try await sender.query(Self.notify, ["jobs", "after"]) }
            guard case .notification(let after) = await events.next() else {
                Issue.record("expected a notification after the reconnect")
                return
            }
            #expect(after.channel == "jobs" && after.payload == "after")
            run.cancel()
            await run.value
        }
    }
}
