import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// Limits per target that hold for the whole cluster, with real worker processes and a target that records when
/// every call starts: `rate` + `burst` over every one-second window, `global_concurrency` over the target's own
/// count of calls in flight, both while a node is killed mid-drain; the stored override of `asynctask targets
/// set`; and the bad values each refused with the key or value named.
@Suite("Cluster-wide limits: rate, burst, global_concurrency", .serialized)
struct ClusterLimitTests {
    /// The most calls that start within any one second of `starts` (seconds since the epoch).
    static func busiestSecond(_ starts: [Double]) -> Int {
        let sorted = starts.sorted()
        var most = 0
        var first = 0
        for last in sorted.indices {
            while sorted[last] - sorted[first] >= 1.0 { first += 1 }
            most = max(most, last - first + 1)
        }
        return most
    }

    @Test(
        "rate 200/s, burst 20, 4 nodes, 5,000 attempts, one node killed -9 mid-drain: no second holds more than 220 calls; the drain takes at most 1.15× the ideal"
    )
    func rateAndBurst() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "5"]) { cluster in
            let ids = try await cluster.enqueue(5000)
            var workers: [ManagedProcess] = []
            for _ in 0..<4 { workers.append(try cluster.startWorker(target: ["rate: 200/s", "burst: 20"])) }
            try await eventually("a third of the drain", timeout: .seconds(60), every: .milliseconds(50)) {
                try cluster.recordedCalls().count >= 1500
            }
            workers[1].send(SIGKILL)
            try await eventually("every attempt succeeds", timeout: .seconds(120), every: .milliseconds(250)) {
                try await cluster.statusCounts()["succeeded"] == ids.count
            }
            let starts = try cluster.recordedCalls().map(\.at)
            let busiest = Self.busiestSecond(starts)
            #expect(busiest <= 220, "the busiest second held \(busiest) calls (rate 200/s + burst 20)")
            // The ideal drain of every call made (the killed node's calls run again): the burst at once, then the rate.
            let ideal = Double(starts.count - 20) / 200
            let took = (starts.max() ?? 0) - (starts.min() ?? 0)
            #expect(took <= ideal * 1.15, "the drain took \(took) s against an ideal of \(ideal) s (\(took / ideal)×)")
            print("rate limit: \(starts.count) calls, busiest second \(busiest), drain \(took) s, ideal \(ideal) s, \(took / ideal)×")
        }
    }

    @Test(
        "global_concurrency 20 stored by `targets set`, 4 nodes of concurrency 64, one killed -9 mid-run: the target never sees more than 20 calls at once and reaches 18; --clear removes it"
    )
    func globalConcurrency() async throws {
        try await Cluster.with(targetArguments: ["--delay-ms", "200"]) { cluster in
            let ids = try await cluster.enqueue(800)
            let cli = CommandRunner()
            let set = try await cli.run([
                "targets", "set", "OrderClient", "--global-concurrency", "20", "--by", "cluster test", "--json", "--database-url",
                cluster.database.url,
            ])
            #expect(set.exitCode == 0, "\(set.stderr)")
            let stored = try #require(try JSONSerialization.jsonObject(with: Data(set.stdout.utf8)) as? [[String: Any]]).first
            #expect((stored?["global_concurrency"] as? NSNumber)?.intValue == 20 && stored?["limits_set_by"] as? String == "cluster test")

            var workers: [ManagedProcess] = []
            for _ in 0..<4 { workers.append(try cluster.startWorker(target: ["concurrency: 64"])) }
            try await eventually("a quarter of the run", timeout: .seconds(60), every: .milliseconds(50)) {
                (try await cluster.statusCounts()["succeeded"] ?? 0) >= 200
            }
            workers[2].send(SIGKILL)
            try await eventually("every attempt succeeds", timeout: .seconds(120), every: .milliseconds(250)) {
                try await cluster.statusCounts()["succeeded"] == ids.count
            }
            let stats = try await cluster.targetStats()
            let peak = stats["peak_in_flight"] ?? 0
            #expect(peak <= 20, "the target saw \(peak) calls at once")
            #expect(peak >= 18, "the target never saw more than \(peak) calls at once")
            print("global_concurrency 20: peak at the target \(peak), calls \(stats["calls"] ?? 0)")
            for worker in workers where worker.isRunning {
                #expect(worker.stderr.contains("cluster-wide limits changed"), "\(worker.name) never applied the stored limit")
            }

            let clear = try await cli.run(["targets", "set", "OrderClient", "--clear", "--json", "--database-url", cluster.database.url])
            #expect(clear.exitCode == 0, "\(clear.stderr)")
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets WHERE global_concurrency IS NOT NULL") == 0)
        }
    }

    @Test(
        "bad limits are refused naming the value, and nothing is stored: targets set on an unknown target, rate fast, rate 0/s, burst -1, global_concurrency 0"
    )
    func badLimits() async throws {
        try await Cluster.with { cluster in
            _ = try await cluster.enqueue(1)
            let cli = CommandRunner()
            let cases: [(arguments: [String], says: String)] = [
                (["Orderclient", "--rate", "5/s"], "did you mean OrderClient?"),
                (["OrderClient", "--rate", "fast"], "'fast' is not a rate"),
                (["OrderClient", "--rate", "0/s"], "it must be more than 0"),
                (["OrderClient", "--rate", "5/week"], "unknown unit"),
                (["OrderClient", "--burst=-1"], "burst: must be 0 or more"),
                (["OrderClient", "--global-concurrency", "0"], "global_concurrency: must be at least 1"),
                (["OrderClient"], "nothing to set"),
            ]
            for (arguments, says) in cases {
                let result = try await cli.run(["targets", "set"] + arguments + ["--database-url", cluster.database.url])
                #expect(result.exitCode == 2, "\(arguments): exit \(result.exitCode), \(result.stderr)")
                #expect(result.stderr.contains(says), "\(arguments): \(result.stderr)")
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_targets") == 0)

            // A worker whose file holds a bad limit does not start, and names the key.
            for (setting, says) in [
                ("rate: fast", "targets.OrderClient.rate"), ("rate: 0/s", "targets.OrderClient.rate"),
                ("burst: -1", "targets.OrderClient.burst"), ("global_concurrency: 0", "targets.OrderClient.global_concurrency"),
            ] {
                let worker = try cluster.startWorker(target: [setting])
                let code = await worker.waitForExit(timeout: .seconds(30))
                #expect(
                    code != nil && code != 0 && worker.stderr.contains(says),
                    "\(setting): exit \(code.map(String.init) ?? "none"), \(worker.stderr.suffix(400))")
            }
            #expect(try await cluster.scalar("SELECT count(*) FROM async_task_attempts WHERE num_attempts > 0") == 0)
        }
    }
}
