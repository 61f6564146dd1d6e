import ArgumentParser
import AsyncTaskCore
import CurlHTTP
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `asynctask bench http`: N concurrent request loops through one ``HTTPEngine`` against a URL,
/// for a fixed time; prints throughput, latency percentiles and the engine thread's CPU use.
///
/// Meant for loopback servers (see `scripts/bench-http.sh`, which runs `wrk` beside it).
struct BenchHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Measure the libcurl engine: requests/s, p50/p99 latency and engine-thread CPU against one URL."
    )

    @Option(help: "The URL to GET (http or https).")
    var url: String

    @Option(help: "Concurrent request loops (and the most connections to the host).")
    var concurrency: Int = 64

    @Option(help: "How long to run, in seconds.")
    var duration: Double = 10

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
    }

    /// What one request loop measured.
    private struct LoopResult: Sendable {
        var latencies: [Int64] = []  // nanoseconds
        var failures = 0
        var non2xx = 0
    }

    func run() async throws {
        let engine = HTTPEngine(
            configuration: HTTPEngine.Configuration(
                maxConnectionsPerHost: concurrency,
                connectionCacheSize: max(concurrency, 16),
                shutdownBehavior: .failInFlight
            ),
            logger: Logger(label: "bench-http")
        )
        let request = HTTPRequest(method: .get, url: url, connectTimeout: .seconds(5), timeout: .seconds(30))
        let concurrency = self.concurrency
        let duration = Duration.milliseconds(Int64(self.duration * 1000))

        let (results, elapsed, cpu) = await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.run() }
            defer { group.cancelAll() }

            // Warm-up: open the connections before measuring.
            await withTaskGroup(of: Void.self) { warmup in
                for _ in 0..<concurrency { warmup.addTask { _ = try? await engine.execute(request) } }
            }

            let cpuBefore = engine.statistics.engineThreadCPUTime ?? .zero
            let processBefore = Self.processCPUTime()
            let start = ContinuousClock.now
            let deadline = start + duration
            let results = await withTaskGroup(of: LoopResult.self) { loops in
                for _ in 0..<concurrency {
                    loops.addTask {
                        var result = LoopResult()
                        result.latencies.reserveCapacity(65_536)
                        while ContinuousClock.now < deadline {
                            let sent = ContinuousClock.now
                            do {
                                let response = try await engine.execute(request)
                                if !(200...299).contains(response.status) { result.non2xx += 1 }
                                let latency = sent.duration(to: .now)
                                result.latencies.append(latency.nanoseconds)
                            } catch {
                                result.failures += 1
                            }
                        }
                        return result
                    }
                }
                return await loops.reduce(into: [LoopResult]()) { $0.append($1) }
            }
            let elapsed = start.duration(to: .now)
            let cpu = (engine.statistics.engineThreadCPUTime ?? .zero) - cpuBefore
            return (results, elapsed, (engine: cpu, process: Self.processCPUTime() - processBefore))
        }

        var latencies = results.flatMap(\.latencies)
        latencies.sort()
        let seconds = Self.seconds(elapsed)
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)
            return Double(latencies[max(0, index)]) / 1e6
        }
        let fields = [
            "requests_per_s=\(Self.format(Double(latencies.count) / seconds, 0))",
            "p50_ms=\(Self.format(percentile(0.50), 3))",
            "p99_ms=\(Self.format(percentile(0.99), 3))",
            "engine_thread_cpu_pct=\(Self.format(Self.seconds(cpu.engine) / seconds * 100, 1))",
            // CPU per request: the engine thread's, and the whole process's (engine thread plus callers).
            "engine_thread_us_per_req=\(Self.format(Self.seconds(cpu.engine) * 1e6 / Double(max(1, latencies.count)), 2))",
            "process_us_per_req=\(Self.format(Self.seconds(cpu.process) * 1e6 / Double(max(1, latencies.count)), 2))",
            "requests=\(latencies.count)",
            "non_2xx=\(results.reduce(0) { $0 + $1.non2xx })",
            "errors=\(results.reduce(0) { $0 + $1.failures })",
            "concurrency=\(concurrency)",
            "duration_s=\(Self.format(seconds, 2))",
        ]
        print(fields.joined(separator: " "))
    }

    /// User plus system CPU time of the whole process so far.
    private static func processCPUTime() -> Duration {
        var usage = rusage()
        #if os(Linux)
            let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
            let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return .zero }
        func duration(_ time: timeval) -> Duration { .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec)) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }

    private static func seconds(_ duration: Duration) -> Double {
        duration.seconds
    }

    private static func format(_ value: Double, _ decimals: Int) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let rounded = (value * factor).rounded() / factor
        return decimals == 0 ? String(Int(rounded)) : String(rounded)
    }
}
