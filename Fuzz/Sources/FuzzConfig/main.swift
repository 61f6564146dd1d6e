import AsyncTaskWorker
import FuzzSupport

/// What every input is checked against (static, so nonisolated code may read it).
enum Fixture {
    /// The environment `${VAR}` references may use; no `ASYNCTASK_*` overrides, so the text alone decides.
    static let environment = [
        "DB_URL": "postgres://localhost/asynctask",
        "KEY_1": "ERERERERERERERERERERERERERERERERERERERERERE=",
        "TOKEN": "0123456789abcdef0123",
    ]
}

/// YAML text → a configuration that satisfies the loader's own rules, or a `ConfigurationError` that names a key
/// (or the source) and says what is wrong.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = FuzzCheck.text(data, size)
    do {
        let config = try WorkerConfiguration.load(yaml: text, source: "fuzz.yaml", environment: Fixture.environment)
        FuzzCheck.require(!config.targets.isEmpty, "a loaded configuration has a target", input: text)
        FuzzCheck.require(config.node.heartbeat < config.node.deadAfter, "heartbeat < dead_after", input: text)
        FuzzCheck.require(config.node.heartbeat * 2 <= config.node.lease, "lease ≥ 2 × heartbeat", input: text)
        FuzzCheck.require((1...100_000).contains(config.node.concurrency), "node.concurrency in range", input: text)
        FuzzCheck.require((2...200).contains(config.databasePoolSize), "database.pool_size in range", input: text)
        FuzzCheck.require(!config.admin.enabled || (0...65_535).contains(config.admin.port), "admin port in range", input: text)
    } catch {
        FuzzCheck.require(!error.key.isEmpty, "a config error names a key (reason: \(error.reason))", input: text)
        FuzzCheck.require(!error.reason.isEmpty, "a config error says what is wrong (key: \(error.key))", input: text)
    }
    return 0
}

FuzzDriver.run(fuzzConfig)
