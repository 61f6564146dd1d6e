import AsyncTaskTargets
import AsyncTaskWorker
import Foundation
import Testing

/// The README's "Configuration reference" must describe the code: every key the loader accepts, the
/// environment variable that overrides it, and the defaults the code applies.
@Suite("README configuration reference")
struct ConfigReferenceTests {
    /// The reference table of the checked-in README.
    static let reference: ConfigReference = {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = (try? String(contentsOf: readme, encoding: .utf8)) ?? ""
        return ConfigReference(markdown: text)
    }()

    @Test("the README has a configuration reference table")
    func tableExists() {
        #expect(Self.reference.rows.count >= WorkerConfiguration.knownKeys.count / 2, "no '## Configuration reference' table found in README.md")
    }

    @Test("every key the configuration accepts is in the README's reference", arguments: WorkerConfiguration.knownKeys)
    func keyDocumented(key: String) {
        #expect(Self.reference.missing(from: [key]).isEmpty, "README.md's configuration reference has no row for '\(key)'")
    }

    @Test("the check catches a key missing from the reference")
    func checkCanFail() {
        let text = """
            ## Configuration reference

            | key | default | environment override | meaning |
            |---|---|---|---|
            | `node.concurrency` | `512` | `ASYNCTASK_NODE_CONCURRENCY` | calls in flight |
            | `targets.<name>.url` | required | `ASYNCTASK_TARGETS_<NAME>_URL` | base URL |

            ## Next section

            | `node.lease` | `30s` | `ASYNCTASK_NODE_LEASE` | outside the reference: does not count |
            """
        let reference = ConfigReference(markdown: text)
        #expect(reference.missing(from: ["node.concurrency", "targets.*.url", "node.lease", "targets.*.timeout"]) == ["node.lease", "targets.*.timeout"])
    }

    @Test("each row's environment override follows the ASYNCTASK_ rule")
    func environmentColumn() {
        for row in Self.reference.rows {
            let expected = WorkerConfiguration.environmentPrefix + row.key.replacingOccurrences(of: ".", with: "_").uppercased()
            #expect(row.environment == expected, "README row \(row.key): override \(row.environment), expected \(expected)")
        }
    }

    @Test("the documented defaults are the code's defaults")
    func defaults() async throws {
        let config = try await WorkerConfiguration.load(file: nil, environment: [
            "ASYNCTASK_DATABASE_URL": "postgresql://db/app", "ASYNCTASK_TARGETS": "OrderClient",
            "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://orders/rpc",
        ])
        let node = config.node
        let target = try #require(config.targets["OrderClient"])
        let code: [String: String] = [
            "database.pool_size": "\(config.databasePoolSize)",
            "node.concurrency": "\(node.concurrency)",
            "node.lease": Self.text(node.lease),
            "node.heartbeat": Self.text(node.heartbeat),
            "node.dead_after": Self.text(node.deadAfter),
            "node.poll_interval": Self.text(node.pollInterval),
            "node.shutdown_grace": Self.text(node.shutdownGrace),
            "node.claim_batch": "\(node.claimBatch)",
            "node.flush_interval": Self.text(node.flushInterval),
            "node.flush_batch": "\(node.flushBatch)",
            "node.max_buffered_outcomes": "\(node.maxBufferedOutcomes)",
            "node.prefetch": "\(node.prefetch)",
            "targets.*.protocol": target.protocol.rawValue,
            "targets.*.timeout": Self.text(target.timeout),
            "targets.*.max_attempts": "\(target.maxAttempts)",
            "targets.*.backoff.base": Self.text(target.backoff.base),
            "targets.*.backoff.max": Self.text(target.backoff.max),
            "targets.*.concurrency": "\(target.concurrency)",
            "targets.*.max_response_bytes": "\(target.maxResponseBytes)",
            "log.level": "\(config.logLevel)",
            "log.format": config.logFormat.rawValue,
        ]
        for (key, value) in code.sorted(by: { $0.key < $1.key }) {
            let row = Self.reference.rows.first { $0.key == key }
            #expect(row?.defaultValue == "`\(value)`", "README default of \(key) is \(row?.defaultValue ?? "missing"), the code's is `\(value)`")
        }
    }

    /// A duration the way the README writes it: `5ms`, `2s`, `5m`, `1h`.
    static func text(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
