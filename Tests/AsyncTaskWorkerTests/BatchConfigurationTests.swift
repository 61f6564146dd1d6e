import AsyncTaskTargets
import AsyncTaskWorker
import Testing

@Suite("Batch configuration")
struct BatchConfigurationTests {
    static func yaml(_ batch: String) -> String {
        "database_url: x\ntargets:\n  A:\n    url: http://a\n    batch: \(batch)\n"
    }

    @Test("batch: { max, linger } loads; an empty block takes the defaults; no block means unbatched")
    func loads() throws {
        let set = try WorkerConfiguration.load(yaml: Self.yaml("{ max: 250, linger: 20ms }"), environment: [:])
        #expect(set.targets["A"]?.batch == (try BatchSettings(max: 250, linger: .milliseconds(20), target: "A")))
        let empty = try WorkerConfiguration.load(yaml: Self.yaml("{}"), environment: [:])
        #expect(empty.targets["A"]?.batch?.max == 100 && empty.targets["A"]?.batch?.linger == .milliseconds(5))
        let zero = try WorkerConfiguration.load(yaml: Self.yaml("{ linger: 0ms }"), environment: [:])
        #expect(zero.targets["A"]?.batch?.linger == .zero)
        let none = try WorkerConfiguration.load(yaml: "database_url: x\ntargets: { A: { url: http://a } }", environment: [:])
        #expect(none.targets["A"]?.batch == nil)
        let fromEnvironment = try WorkerConfiguration.load(
            yaml: "database_url: x\ntargets: { A: { url: http://a } }", environment: ["ASYNCTASK_TARGETS_A_BATCH_MAX": "7"])
        #expect(fromEnvironment.targets["A"]?.batch?.max == 7)
    }

    @Test(
        "bad batch values are errors naming the key and the value",
        arguments: [
            ("{ max: 0 }", "targets.A.batch.max", "between 1 and 1000 (got 0)"),
            ("{ max: 1001 }", "targets.A.batch.max", "between 1 and 1000 (got 1001)"),
            ("{ max: many }", "targets.A.batch.max", "'many' is not a whole number"),
            ("{ linger: -1ms }", "targets.A.batch.linger", "must not be negative"),
            ("{ linger: soon }", "targets.A.batch.linger", "'soon' is not a duration"),
            ("{ linger: 2s }", "targets.A.batch.linger", "at most 1.0 seconds"),
            ("{ size: 10 }", "targets.A.batch.size", "unknown key"),
        ])
    func mistakes(batch: String, key: String, reason: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration.load(yaml: Self.yaml(batch), environment: [:])
        }
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }
}
