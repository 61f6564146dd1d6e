import ArgumentParser

/// `asynctask bench …`: benchmarks that print figures (never pass/fail tests).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency; prints figures.",
        subcommands: [BenchEnqueue.self, BenchHTTP.self, BenchPickup.self])
}
