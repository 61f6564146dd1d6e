import AsyncTask
import Foundation
import PostgresClient
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real cluster for one test: a migrated database of its own, the example target as a process recording
/// every call, and `asynctask worker` processes started with a generated config.
final class Cluster: @unchecked Sendable {
    // Mutated only by the test's own task (start/stop calls happen sequentially in the test body).
    let database: TestDatabase
    let directory: URL
    let target: ManagedProcess
    let targetURL: String
    let recordFile: URL
    private(set) var workers: [ManagedProcess] = []
    let pool: PostgresConnectionPool

    private init(database: TestDatabase, directory: URL, target: ManagedProcess, targetURL: String, recordFile: URL) {
        self.database = database
        self.directory = directory
        self.target = target
        self.targetURL = targetURL
        self.recordFile = recordFile
        self.pool = PostgresConnectionPool(configuration: database.configuration, options: .init(maxConnections: 4))
    }

    /// Runs `body` with a fresh cluster; stops every process and drops the database afterwards.
    /// `migrate: false` leaves the database empty (for tests that create the table another way, e.g. adoption).
    static func with(targetArguments: [String] = [], server: String? = nil, migrate: Bool = true, _ body: (Cluster) async throws -> Void) async throws
    {
        let database = try await TestDatabase.create(on: server)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cluster: Cluster
        do {
            if migrate { try await database.withConnection { try await Migrator().migrate(on: $0) } }
            let recordFile = directory.appendingPathComponent("calls.jsonl")
            let target = try ManagedProcess(
                name: "target", arguments: ["example-target", "--port", "0", "--record", recordFile.path] + targetArguments, directory: directory)
            let output = try await target.waitForOutput("listening on ")
            guard let line = output.split(separator: "\n").first(where: { $0.contains("listening on ") }),
                let url = line.split(separator: " ").last
            else { throw TestSetupError("example-target printed no address") }
            cluster = Cluster(database: database, directory: directory, target: target, targetURL: "\(url)/rpc", recordFile: recordFile)
        } catch {
            try? await database.drop()
            throw error
        }
        do {
            try await body(cluster)
        } catch {
            cluster.dumpLogs()
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// Starts a worker node; `settings` are YAML lines under `node:` (e.g. `concurrency: 50`), `target` lines
    /// under the `OrderClient` target, `extra` top-level YAML lines (e.g. `retention: { interval: 200ms }`).
    /// Its admin server listens on a free loopback port unless `extra` sets `admin:` (see `adminURL(of:)`).
    /// `otherTargets` are YAML lines under `targets:` after `OrderClient` (e.g. `Big: { url: http://… }`).
    /// `databaseURL` and `targetURL` replace the cluster's own (another role or address); `launcher` runs the
    /// node through a command such as `ip netns exec NS`. `deadAfter` is the node's `dead_after` (2 s by default,
    /// so reaping tests are quick).
    @discardableResult
    func startWorker(
        node settings: [String] = [], target targetSettings: [String] = [], extra: [String] = [], otherTargets: [String] = [],
        environment: [String: String] = [:], databaseURL: String? = nil, targetURL: String? = nil, launcher: [String] = [],
        deadAfter: String = "2s"
    ) throws -> ManagedProcess {
        let name = "worker\(workers.count + 1)"
        let config = directory.appendingPathComponent("\(name).yaml")
        let yaml = """
            database_url: \(databaseURL ?? database.url)
            node:
              heartbeat: 300ms
              dead_after: \(deadAfter)
              lease: 30s
              poll_interval: 200ms
            \(settings.map { "  \($0)" }.joined(separator: "\n"))
            targets:
              OrderClient:
                url: \(targetURL ?? self.targetURL)
                timeout: 30s
                backoff: { base: 50ms, max: 200ms }
            \(targetSettings.map { "    \($0)" }.joined(separator: "\n"))
            \(otherTargets.map { "  \($0)" }.joined(separator: "\n"))
            log: { format: json, level: info }
            \(extra.contains { $0.hasPrefix("admin:") } ? "" : "admin: { listen: \"127.0.0.1:0\" }")
            \(extra.joined(separator: "\n"))
            """
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let worker = try ManagedProcess(
            name: name, arguments: ["worker", "--config", config.path], environment: environment, directory: directory, launcher: launcher)
        workers.append(worker)
        return worker
    }

    /// The base URL (`http://127.0.0.1:PORT`) of a worker's admin server, from its "admin server listening" log line.
    func adminURL(of worker: ManagedProcess, timeout: Duration = .seconds(30)) async throws -> String {
        var address: String?
        try await eventually("\(worker.name)'s admin server to listen", timeout: timeout, every: .milliseconds(50)) {
            for line in worker.stderr.split(separator: "\n") where line.contains("admin_address") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let value = object["admin_address"] as? String
                {
                    address = value
                    return true
                }
            }
            return false
        }
        return "http://\(address ?? "")"
    }

    /// Enqueues `count` attempts in batches; returns their ids.
    func enqueue(
        _ count: Int, method: String = "fulfill", arguments: @Sendable (Int) -> String = { #"{"order_number":\#($0)}"# }, priority: Int16 = 0,
        maxAttempts: Int? = nil, scheduledAt: Date? = nil, orderingKey: @Sendable (Int) -> String? = { _ in nil },
        concurrencyKey: @Sendable (Int) -> String? = { _ in nil }
    ) async throws -> [Int64] {
        var ids: [Int64] = []
        var index = 0
        while index < count {
            let end = min(count, index + 5000)
            let batch = try (index..<end).map { n in
                try Attempt(
                    target: "OrderClient", method: method, argumentsJSON: Data(arguments(n).utf8), scheduledAt: scheduledAt, priority: priority,
                    maxAttempts: maxAttempts, orderingKey: orderingKey(n), concurrencyKey: concurrencyKey(n))
            }
            ids += try await pool.withTransaction { try await AttemptQueue().enqueue(batch, on: $0) }
            index = end
        }
        return ids
    }

    /// Attempts by status.
    func statusCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await pool.query(
            PostgresStatement(name: "status_counts", sql: "SELECT status, count(*) AS n FROM async_task_attempts GROUP BY status"))
        {
            counts[try row.decode(String.self, "status")] = try row.decode(Int.self, "n")
        }
        return counts
    }

    /// One integer from a query.
    func scalar(_ sql: String, _ binds: [any PostgresEncodable] = []) async throws -> Int {
        try await pool.query(PostgresStatement(name: "scalar", sql: sql, isPrepared: false), binds).single().decode(Int.self, at: 0)
    }

    /// A node's counters from its row (written at each heartbeat).
    func nodeCounters() async throws -> [(status: String, counters: [String: Int])] {
        try await pool.query(
            PostgresStatement(name: "node_counters", sql: "SELECT status, counters::text AS c FROM async_task_nodes ORDER BY started_at")
        ).map { row in
            let json = try row.decode(String.self, "c")
            let counters = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Int]) ?? [:]
            return (try row.decode(String.self, "status"), counters)
        }
    }

    /// The calls the target recorded: (attempt id, attempt number, Unix time received).
    func recordedCalls() throws -> [(id: Int64, number: Int, at: Double)] {
        let text = (try? String(contentsOf: recordFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value, let number = (object["attempt_number"] as? NSNumber)?.intValue,
                let at = (object["at"] as? NSNumber)?.doubleValue
            else { return nil }
            return (id, number, at)
        }
    }

    /// When each call the target answered ended (`--record-ends`): (attempt id, attempt number) → Unix time.
    func recordedEnds() throws -> [CallKey: Double] {
        let text = (try? String(contentsOf: recordFile, encoding: .utf8)) ?? ""
        var ends: [CallKey: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = (object["attempt_id"] as? NSNumber)?.int64Value, let number = (object["attempt_number"] as? NSNumber)?.intValue,
                let end = (object["ended_at"] as? NSNumber)?.doubleValue
            else { continue }
            ends[CallKey(id: id, number: number)] = end
        }
        return ends
    }

    /// One call of an attempt: its id and try number.
    struct CallKey: Hashable {
        let id: Int64
        let number: Int
    }

    /// The example target's `/stats`.
    func targetStats() async throws -> [String: Int] {
        let url = URL(string: targetURL.replacingOccurrences(of: "/rpc", with: "/stats"))!
        let (data, _) = try await URLSession.shared.data(from: url)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Int]) ?? [:]
    }

    func dumpLogs() {
        for worker in workers {
            print("---- \(worker.name) stderr (tail) ----\n\(worker.stderr.suffix(3000))")
        }
        let calls = ((try? String(contentsOf: recordFile, encoding: .utf8)) ?? "").split(separator: "\n").count
        print("---- target: \(calls) calls recorded; stderr (tail) ----\n\(target.stderr.suffix(1500))")
    }

    func shutdown() async {
        for worker in workers where worker.isRunning {
            worker.send(SIGCONT)
            worker.send(SIGKILL)
        }
        target.send(SIGKILL)
        await pool.close()
        try? await database.drop()
        try? FileManager.default.removeItem(at: directory)
    }
}
