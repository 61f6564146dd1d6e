import AsyncTask
import AsyncTaskTargets
import AsyncTaskWorker
import CurlHTTP
import Foundation
import Testing

/// The README's "Configuration reference" must describe the code: every key the loader accepts, the
/// environment variable that overrides it, and the defaults the code applies.
@Suite("README configuration reference")
struct ConfigReferenceTests {
    /// The checked-in README.
    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")

    /// The reference table of the checked-in README.
    static let reference = ConfigReference(markdown: (try? String(contentsOf: readme, encoding: .utf8)) ?? "")

    @Test("the README has a configuration reference table")
    func tableExists() {
        #expect(Self.reference.rows.count >= WorkerConfiguration.knownKeys.count / 2, "no '## Configuration reference' table found in README.md")
    }

    @Test("every key the configuration accepts is in the README's reference", arguments: WorkerConfiguration.knownKeys)
    func keyDocumented(key: String) {
        #expect(Self.reference.missing(from: [key]).isEmpty, "README.md's configuration reference has no row for '\(key)'")
    }

    @Test("every key in the README's reference is a key the configuration accepts", arguments: ConfigReferenceTests.reference.rows.map(\.key))
    func keyExists(key: String) {
        #expect(
            Self.reference.extra(beyond: WorkerConfiguration.knownKeys).contains(key) == false,
            "README.md's configuration reference lists '\(key)', which the code does not accept")
    }

    /// The README's table is the one `WorkerConfiguration.referenceTable` generates from the key table, row for
    /// row: defaults, variables, types and docs written once, in the code. `ASYNCTASK_UPDATE_GOLDEN=1` rewrites
    /// the README's table (as for the CLI's golden files); review the diff before committing it.
    @Test("the README's reference table is the one the key table generates")
    func tableIsGenerated() throws {
        let expected = WorkerConfiguration.referenceTable
        guard Self.reference.table != expected else { return }
        if ProcessInfo.processInfo.environment["ASYNCTASK_UPDATE_GOLDEN"] == "1" {
            let text = try String(contentsOf: Self.readme, encoding: .utf8)
            let rewritten = try #require(ConfigReference.replacingTable(in: text, with: expected), "README.md has no reference table to rewrite")
            try rewritten.write(to: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        let written = Set(Self.reference.table.split(separator: "\n"))
        let generated = Set(expected.split(separator: "\n"))
        let differing =
            generated.subtracting(written).sorted().map { "  code:   \($0)" } + written.subtracting(generated).sorted().map { "  README: \($0)" }
        Issue.record(
            """
            README.md's configuration reference is not the key table's (WorkerConfiguration+Keys.swift); rows that differ:
            \(differing.joined(separator: "\n"))
            Run `ASYNCTASK_UPDATE_GOLDEN=1 swift test --filter ConfigReferenceTests` to rewrite it, or paste this table:
            \(expected)
            """)
    }

    @Test("the generated table has one row per key, and every key's variable follows the ASYNCTASK_ rule")
    func generatedRows() {
        let generated = ConfigReference(markdown: "## Configuration reference\n\n" + WorkerConfiguration.referenceTable + "\n")
        #expect(generated.rows.map(\.key) == WorkerConfiguration.knownKeys)
        #expect(Set(WorkerConfiguration.knownKeys).count == WorkerConfiguration.knownKeys.count, "a key is in the table twice")
        for key in WorkerConfiguration.configurationKeys where !key.path.contains("<") {
            #expect(key.environmentVariable == WorkerConfiguration.environmentName(forKey: key.path))
        }
        #expect(
            WorkerConfiguration.configurationKeys.first { $0.path == "targets.<name>.headers.<header>" }?.environmentVariable
                == "ASYNCTASK_TARGETS_<NAME>_HEADERS_<HEADER>")
    }

    @Test("the check catches a README key the code lacks")
    func extraCanFail() {
        let text = """
            ## Configuration reference

            | key | default | environment override | meaning |
            |---|---|---|---|
            | `node.concurrency` | `512` | `ASYNCTASK_NODE_CONCURRENCY` | calls in flight |
            | `node.speed` | `fast` | `ASYNCTASK_NODE_SPEED` | a key the code lacks |
            """
        #expect(ConfigReference(markdown: text).extra(beyond: WorkerConfiguration.knownKeys) == ["node.speed"])
        #expect(ConfigReference(markdown: text).table.split(separator: "\n").count == 4)
        let replaced = ConfigReference.replacingTable(in: text + "\n\nA file:\n", with: "| new |")
        #expect(replaced == "## Configuration reference\n\n| new |\n\nA file:\n")
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
        #expect(
            reference.missing(from: ["node.concurrency", "targets.*.url", "node.lease", "targets.*.timeout"]) == ["node.lease", "targets.*.timeout"])
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
        let config = try await WorkerConfiguration.load(
            file: nil,
            environment: [
                "ASYNCTASK_DATABASE_URL": "postgresql://db/app", "ASYNCTASK_TARGETS": "OrderClient",
                "ASYNCTASK_TARGETS_ORDER_CLIENT_URL": "http://orders/rpc",
                "ASYNCTASK_WEBHOOK_URL": "http://hooks/events", "ASYNCTASK_WEBHOOK_SECRET": "0123456789abcdef0123",
            ])
        let node = config.node
        let target = try #require(config.targets["OrderClient"])
        let webhook = try #require(config.webhook)
        let code: [String: String] = [
            "database.pool_size": "\(config.databasePoolSize)",
            "node.concurrency": "\(node.concurrency)",
            "node.lease": Self.text(node.lease),
            "node.heartbeat": Self.text(node.heartbeat),
            "node.dead_after": Self.text(node.deadAfter),
            "node.poll_interval": Self.text(node.pollInterval),
            "node.shutdown_grace": Self.text(node.shutdownGrace),
            "node.claim_batch": "\(node.claimBatch)",
            "node.claimers": "\(node.claimers)",
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
            "targets.*.tls.insecure_skip_verify": "\(target.tls.insecureSkipVerify)",
            "webhook.timeout": Self.text(webhook.target.timeout),
            "webhook.max_attempts": "\(webhook.target.maxAttempts)",
            "webhook.backoff.base": Self.text(webhook.target.backoff.base),
            "webhook.backoff.max": Self.text(webhook.target.backoff.max),
            "webhook.concurrency": "\(webhook.target.concurrency)",
            "webhook.include_args": "\(webhook.includeArgs)",
            "webhook.events":
                "[\(webhook.events.map(\.rawValue).sorted { a, b in Self.eventOrder(a) < Self.eventOrder(b) }.joined(separator: ", "))]",
            "admin.listen": "\(config.admin.host):\(config.admin.port)",
            "retention.succeeded": Self.text(config.retention.succeeded),
            "retention.failed": Self.text(config.retention.failed),
            "retention.interval": Self.text(config.retention.interval),
            "log.level": "\(config.logLevel)",
            "log.format": config.logFormat.rawValue,
        ]
        for (key, value) in code.sorted(by: { $0.key < $1.key }) {
            let row = Self.reference.rows.first { $0.key == key }
            #expect(row?.defaultValue == "`\(value)`", "README default of \(key) is \(row?.defaultValue ?? "missing"), the code's is `\(value)`")
        }
    }

    /// Where an event comes in the order the README lists them (the order of `WebhookConfiguration.Event`).
    static func eventOrder(_ name: String) -> Int {
        WebhookConfiguration.Event.allCases.firstIndex { $0.rawValue == name } ?? Int.max
    }

    /// A duration the way the README writes it: `5ms`, `2s`, `5m`, `1h`, `7d`.
    static func text(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
