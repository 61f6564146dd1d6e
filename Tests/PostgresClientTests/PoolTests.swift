import Foundation
import PostgresClient
import Synchronization
import TestSupport
import Testing

@Suite("Connection pool")
struct PoolTests {
    static let backendPID = PostgresStatement(name: "backend_pid", sql: "SELECT pg_backend_pid() AS pid")
    static let terminate = PostgresStatement(name: "terminate", sql: "SELECT pg_terminate_backend($1) AS done")

    @Test("never opens more than maxConnections under 20 concurrent callers")
    func limitsAndTimeout() async throws {
        try await TestDatabase.with { database throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 3, acquireTimeout: .seconds(30)))
            let gauge = ConcurrencyGauge()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await pool.withConnection { connection throws in
                            gauge.enter()
                            try await connection.query(PostgresStatement(name: "short_sleep", sql: "SELECT pg_sleep(0.02)"))
                            gauge.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(gauge.peak == 3)
            #expect(pool.counts.open == 3)
            await pool.close()
        }
    }

    @Test("a waiter past acquireTimeout gets .poolTimeout; a released connection serves the next caller")
    func acquireTimeout() async throws {
        try await TestDatabase.with { database throws in
            let pool = PostgresConnectionPool(
                configuration: database.configuration, options: .init(maxConnections: 3, acquireTimeout: .milliseconds(300)))
            // Hold all three, then ask for a fourth.
            let release = AsyncStream<Void>.makeStream()
            let held = AsyncStream<Void>.makeStream()
            let holders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 {
                        group.addTask {
                            try await pool.withConnection { _ in
                                held.continuation.yield()
                                for await _ in release.stream {}
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Connecting takes a while on a loaded machine: wait until all three are really held.
            var holding = 0
            for await _ in held.stream {
                holding += 1
                if holding == 3 { break }
            }
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await pool.query(Self.backendPID) }
            #expect(error?.code == .poolTimeout)
            #expect(ContinuousClock.now - started >= .milliseconds(250))
            release.continuation.finish()
            try await holders.value
            #expect(try await pool.query(Self.backendPID).count == 1)
            await pool.close()
        }
    }

    @Test("pg_terminate_backend of a pooled connection: the next call reconnects transparently")
    func survivesTerminatedBackend() async throws {
        try await TestDatabase.with { database throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 1))
            let firstPID = try await pool.query(Self.backendPID).single().decode(Int32.self, "pid")
            try await database.withConnection { admin throws in
                let done = try await admin.query(Self.terminate, [firstPID]).single().decode(Bool.self, "done")
                #expect(done)
            }
            try await Task.sleep(for: .milliseconds(100))
            let secondPID = try await pool.query(Self.backendPID).single().decode(Int32.self, "pid")
            #expect(secondPID != firstPID)
            #expect(pool.counts.open == 1)
            await pool.close()
        }
    }

    @Test("a connection killed while in use fails that call with a connection error and is replaced")
    func brokenInUseConnectionIsDropped() async throws {
        try await TestDatabase.with { database throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 1))
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withConnection { connection throws in
                    try await database.withConnection { admin throws in _ = try await admin.query(Self.terminate, [connection.backendPID]) }
                    try await Task.sleep(for: .milliseconds(100))
                    try await connection.query(Self.backendPID)
                }
            }
            #expect(error?.isConnectionLoss == true)
            #expect(try await pool.query(Self.backendPID).count == 1)
            await pool.close()
        }
    }

    @Test("a task cancelled inside withTransaction rolls back, and the pool reuses the connection")
    func cancelledTransactionRollsBack() async throws {
        try await TestDatabase.with { database throws in
            let pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 1))
            try await pool.withConnection { try await $0.execute(script: "CREATE TABLE t (id int)", name: "create") }
            let entered = AsyncStream<Void>.makeStream()
            let task = Task {
                try await pool.withTransaction { connection in
                    try await connection.query(PostgresStatement(name: "insert_t", sql: "INSERT INTO t VALUES (1)"))
                    entered.continuation.yield()
                    try await connection.query(PostgresStatement(name: "sleep", sql: "SELECT pg_sleep(30)"))
                }
            }
            for await _ in entered.stream { break }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            _ = await task.result
            let count = try await pool.query(PostgresStatement(name: "count_t", sql: "SELECT count(*) AS n FROM t")).single().decode(Int.self, "n")
            #expect(count == 0)
            await pool.close()
        }
    }
}

/// Counts concurrent holders and remembers the highest count.
final class ConcurrencyGauge: Sendable {
    private let state = Mutex((active: 0, peak: 0))
    func enter() {
        state.withLock {
            $0.active += 1
            $0.peak = max($0.peak, $0.active)
        }
    }
    func leave() { state.withLock { $0.active -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}
