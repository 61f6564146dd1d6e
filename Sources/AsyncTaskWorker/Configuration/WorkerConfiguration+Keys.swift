import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Foundation
import Logging

// The key table: every key a config file may hold, with its type and validation, its default, its
// environment variable (derived from the path) and one line of documentation. The loader reads values through
// it, the unknown-key check and the ASYNCTASK_* check accept exactly its keys, and the README's configuration
// reference is generated from it (ConfigReferenceTests fails on any difference). A new key is one entry here.

extension WorkerConfiguration: ConfigurationSection {
    /// The configuration before any key is read: every default of the reference is the initialiser's.
    static var defaults: WorkerConfiguration { WorkerConfiguration(databaseURL: "", targets: [:]) }
}

extension WorkerConfiguration {
    /// Every key, in the order of the README's configuration reference.
    public static var configurationKeys: [ConfigurationKey] {
        let target = CallBlock.target
        let webhook = CallBlock.webhook
        return databaseSettings.map(\.key) + nodeSettings.map(\.key)
            + target.settings.map(\.key) + targetSettings.map(\.key)
            + adminSettings.map(\.key)
            + webhook.settings.map(\.key) + webhookSettings.map(\.key)
            + encryptionSettings.map(\.key) + retentionSettings.map(\.key) + logSettings.map(\.key)
    }

    /// Every key a config file may hold, `*` standing for a target, header or key name (`targets.*.url`).
    /// A key outside this list is an error, so a typo (`node.concurency`) never silently falls back to a default.
    public static var knownKeys: [String] { configurationKeys.map(\.pattern) }

    /// The blocks whose names may also be declared by a variable, for setups without a file: the targets
    /// (`ASYNCTASK_TARGETS=OrderClient,Billing`) and the encryption key ids.
    static let nameListVariables: [String: String] = [
        "targets": environmentPrefix + "TARGETS",
        "encryption.keys": environmentPrefix + "ENCRYPTION_KEY_IDS",
    ]

    typealias Setting = ConfigurationSetting<WorkerConfiguration>

    static var databaseSettings: [Setting] {
        [
            Setting(
                "database_url", type: "`postgresql://` URL", default: "required", secret: true,
                doc: "where the database is (`postgresql://user:pass@host:5432/db?sslmode=require`); never logged"
            ) {
                values, key, configuration throws(ConfigurationError) in
                guard let url = try values.string(key.path, secret: true) else {
                    throw ConfigurationError(key: key.path, reason: "is required (set it in the file or as ASYNCTASK_DATABASE_URL)")
                }
                configuration.databaseURL = url
            },
            .integer(
                "database.pool_size", \.databasePoolSize, in: 2...200,
                doc: "connections the node opens at most, besides its LISTEN connection"),
        ]
    }

    static var nodeSettings: [Setting] {
        [
            Setting(
                "node.id", type: "UUID", default: "random UUID per process",
                doc:
                    "the node's id in `async_task_nodes` and in leases: a UUID (`3f2b9c1e-8a4d-4c6e-9b1a-2d5e7f9a0c3b`), since the column and `locked_by` are `uuid`; set it only to keep one id across restarts, and never give two running nodes the same one"
            ) {
                values, key, configuration throws(ConfigurationError) in
                guard let id = try values.string(key.path) else { return }
                guard let uuid = UUID(uuidString: id) else {
                    throw ConfigurationError(
                        key: key.path,
                        reason:
                            "'\(id)' is not a UUID: node ids are UUIDs (e.g. 3f2b9c1e-8a4d-4c6e-9b1a-2d5e7f9a0c3b, as `uuidgen` prints); leave node.id unset for a random one per process"
                    )
                }
                configuration.node.id = uuid
            },
            Setting(
                "node.hostname", type: "text", default: "the host name",
                doc: "shown in the nodes table and dashboard (the pod name in Kubernetes)"
            ) {
                values, key, configuration throws(ConfigurationError) in
                if let hostname = try values.string(key.path) { configuration.node.hostname = hostname }
            },
            .integer("node.concurrency", \.node.concurrency, in: 1...100_000, doc: "calls in flight at most on this node"),
            .duration(
                "node.lease", \.node.lease, minimum: .seconds(1),
                doc: "how long a claim holds an attempt; at least twice `node.heartbeat`, which renews it"),
            .duration(
                "node.heartbeat", \.node.heartbeat, minimum: .milliseconds(50),
                doc: "how often the node reports itself alive and renews its leases"),
            .duration(
                "node.dead_after", \.node.deadAfter, minimum: .milliseconds(200),
                doc: "a node silent this long is marked dead and its leases released; longer than `node.heartbeat`"),
            .duration(
                "node.poll_interval", \.node.pollInterval, minimum: .milliseconds(10),
                doc: "how often to look for due work without a notification (scheduled and retried attempts)"),
            .duration(
                "node.shutdown_grace", \.node.shutdownGrace, minimum: .zero,
                doc: "how long a draining node lets in-flight calls finish; keep the orchestrator's kill timeout above it"),
            .integer("node.claim_batch", \.node.claimBatch, in: 1...10_000, doc: "attempts claimed at most per claim statement"),
            .integer(
                "node.claimers", \.node.claimers, in: 1...16,
                doc: "claim loops running at once on the node; they overlap their round trips to PostgreSQL and share the same caps"),
            .duration(
                "node.flush_interval", \.node.flushInterval, minimum: .zero,
                doc: "how long outcomes wait to be recorded together (each flush is one commit; full `node.flush_batch` batches go at once)"),
            .integer("node.flush_batch", \.node.flushBatch, in: 1...50_000, doc: "outcomes recorded at most per statement"),
            .integer(
                "node.flushers", \.node.flushers, in: 1...8,
                doc:
                    "outcome flushes under way at once, each with its own batch: one flush's round trip and statement overlap the next one's (the flush also passes ordering keys on, which makes it the longer statement of a keyed drain)"
            ),
            .integer(
                "node.max_buffered_outcomes", \.node.maxBufferedOutcomes, in: 1...10_000_000,
                doc: "outcomes held in memory while the database is unreachable; beyond it the node stops claiming"),
            .integer(
                "node.prefetch", \.node.prefetch, in: 0...100_000,
                doc:
                    "attempts claimed at most ahead of free slots (0 turns it off): the node sizes this buffer from its call rate and claim round trip, so a slot that frees starts its next call at once; the buffer's leases are renewed like the others and released at once when the node drains; attempts claimed ahead start in claim order, so an attempt of higher priority enqueued meanwhile waits for the buffer (about 30 ms of calls), and with several `node.claimers` two claims may land in either order"
            ),
            .integer(
                "node.http_transfers", \.node.httpTransfers, in: 0...100_000,
                doc:
                    "calls inside libcurl at most at once (0: no bound): past it calls wait in the node's own queue, the targets taking turns and each call's `timeout` running while it waits; libcurl's work per call grows with the transfers it holds, so a bound below `node.concurrency` can raise throughput when thousands of calls are in flight"
            ),
        ]
    }

    /// The keys only a target has (the call keys it shares with the webhook are ``CallBlock/settings``).
    static var targetSettings: [ConfigurationSetting<RawTargetConfiguration>] {
        let prefix = CallBlock.target.prefix
        return [
            .raw(
                "\(prefix).protocol", \.protocol,
                type: "one of " + TargetProtocol.allCases.map { ConfigurationKey.code($0.rawValue) }.joined(separator: ", "),
                default: ConfigurationKey.code(TargetProtocol.http.rawValue),
                doc: "`http` (`POST {url}/{method_name}`) or `jsonrpc` (`POST {url}`, JSON-RPC 2.0)"),
            .raw(
                "\(prefix).connect_timeout", \.connectTimeout, type: "duration > 0", default: "the smaller of `timeout` and `10s`",
                doc: "limit on connecting (TCP and TLS)"),
            .number(
                "\(prefix).max_response_bytes", \.maxResponseBytes, type: "whole number ≥ 1",
                default: ConfigurationKey.code(TargetConfiguration.Defaults.target.maxResponseBytes),
                doc: "response bodies are cut at this size (an excerpt is kept as `last_error`)"),
            // A `batch` block turns batching on even when empty; so does a variable setting one of its keys.
            .init(
                "\(prefix).batch.max", type: "whole number 1…\(BatchSettings.maxUpperBound)",
                default: "none (one request per attempt); `\(BatchSettings.defaultMax)` once `batch` is set",
                doc: "batched delivery: up to this many attempts of one method per request (see \"Batched delivery\")"
            ) {
                values, key, raw throws(ConfigurationError) in
                guard let max = try values.optionalInt(key.path) else { return }
                raw.batch = raw.batch ?? .init()
                raw.batch?.max = max
            },
            .init(
                "\(prefix).batch.linger", type: "duration 0…\(DurationParser.format(BatchSettings.lingerUpperBound))",
                default: "`\(DurationParser.format(BatchSettings.defaultLinger))` once `batch` is set",
                doc: "the longest a batch waits, from its first attempt, for others to join"
            ) {
                values, key, raw throws(ConfigurationError) in
                guard let linger = try values.raw(key.path) else { return }
                raw.batch = raw.batch ?? .init()
                raw.batch?.linger = linger
            },
        ]
    }

    static var adminSettings: [Setting] {
        let defaults = Admin()
        return [
            Setting(
                "admin.listen", type: "`host:port`, `[v6]:port` or `off`", default: "`\(defaults.host):\(defaults.port)`",
                doc: "address of the node's admin HTTP server (health, metrics, API, dashboard); the container image sets `0.0.0.0:9090`"
            ) {
                values, key, configuration throws(ConfigurationError) in
                guard let listen = try values.string(key.path) else { return }
                if listen.lowercased() == "off" {
                    configuration.admin.enabled = false
                } else {
                    (configuration.admin.host, configuration.admin.port) = try parseListen(listen)
                }
            },
            token(
                "admin.token", \.admin.token,
                doc: "bearer token the admin API's actions (`POST /api/attempts/{id}/…`) require; without it they are refused"),
            token(
                "admin.read_token", \.admin.readToken,
                doc:
                    "when set, the dashboard and `/api/*` answer only requests presenting it (or `admin.token`) as `Authorization: Bearer …` or as a Basic-auth password (browsers ask once); `/healthz`, `/readyz`, `/metrics` stay open; actions still need `admin.token`"
            ),
        ]
    }

    /// An admin token: a secret an attacker may try to guess, so at least ``minimumTokenLength`` characters.
    private static func token(_ path: String, _ field: WritableKeyPath<WorkerConfiguration, String?>, doc: String) -> Setting {
        Setting(path, type: "text, ≥ \(minimumTokenLength) characters", default: "none", secret: true, doc: doc) {
            values, key, configuration throws(ConfigurationError) in
            guard let token = try values.string(key.path, secret: true), !token.isEmpty else { return }
            guard token.count >= minimumTokenLength else {
                throw ConfigurationError(
                    key: key.path, reason: "is too short (\(token.count) characters): use at least \(minimumTokenLength) random characters")
            }
            configuration[keyPath: field] = token
        }
    }

    /// The shortest admin token or webhook secret accepted.
    static let minimumTokenLength = 16

    /// The keys only the webhook has (the call keys it shares with targets are ``CallBlock/settings``).
    static var webhookSettings: [ConfigurationSetting<RawWebhookOptions>] {
        let events = WebhookConfiguration.Event.allCases.map(\.rawValue)
        return [
            .init(
                "webhook.secret", type: "text, ≥ \(minimumTokenLength) bytes", default: "none", secret: true,
                doc: "one HMAC secret; joins `webhook.secrets`"
            ) { values, key, options throws(ConfigurationError) in
                options.secret = try values.string(key.path, secret: true)
            },
            .init(
                "webhook.secrets", type: "list", default: "none", secret: true,
                doc:
                    "HMAC secrets (each \(minimumTokenLength)+ bytes); each delivery is signed with all of them, so a secret can rotate without downtime"
            ) {
                values, key, options throws(ConfigurationError) in
                if let secrets = try values.stringList(key.path, secret: true) { options.secrets = secrets }
            },
            .init(
                "webhook.events", type: "list of " + events.map(ConfigurationKey.code).joined(separator: ", "),
                default: "`[\(events.joined(separator: ", "))]`", doc: "which events are posted"
            ) {
                values, key, options throws(ConfigurationError) in
                guard let names = try values.stringList(key.path) else { return }
                options.events = []
                for name in names {
                    guard let event = WebhookConfiguration.Event(rawValue: name) else {
                        throw ConfigurationError(key: key.path, reason: "'\(name)' is not one of \(events.joined(separator: ", "))")
                    }
                    options.events.insert(event)
                }
            },
            .flag(
                "webhook.include_args", \.includeArgs, default: false,
                doc:
                    "include the attempt's stored `method_args` in events (an encrypted envelope stays encrypted; plaintext is never decrypted for the webhook)"
            ),
        ]
    }

    static var encryptionSettings: [ConfigurationSetting<RawKeyRing>] { [encryptionPrimary, encryptionKey] }

    static var encryptionPrimary: ConfigurationSetting<RawKeyRing> {
        .init(
            "encryption.primary", type: "key id", default: "none (arguments stored as plain JSON)",
            doc: "id of the key that encrypts new arguments"
        ) { values, key, ring throws(ConfigurationError) in
            ring.primary = try values.string(key.path)
        }
    }

    /// Read only once the primary is known to be set (the loader's order of errors).
    static var encryptionKey: ConfigurationSetting<RawKeyRing> {
        .init(
            "encryption.keys.<id>", type: "base64 of 32 bytes", default: "none", secret: true,
            doc: "a key: base64 of 32 random bytes (AES-256-GCM); keep retired keys so old rows still decrypt"
        ) {
            values, key, ring throws(ConfigurationError) in
            do throws(KeyRingError) {
                try KeyRing.validate(id: key.name)
            } catch {
                throw ConfigurationError(key: key.path, reason: error.reason)
            }
            guard let text = try values.string(key.path, secret: true) else {
                throw ConfigurationError(key: key.path, reason: "has no value (expected base64 of 32 bytes, e.g. \"${SOME_VARIABLE}\")")
            }
            ring.keys[key.name] = text
        }
    }

    static var retentionSettings: [Setting] {
        [
            .duration(
                "retention.succeeded", \.retention.succeeded, minimum: .seconds(1),
                doc: "succeeded attempts older than this are deleted, in batches"),
            .duration(
                "retention.failed", \.retention.failed, minimum: .seconds(1),
                doc: "failed and expired attempts older than this are deleted, in batches"),
            .duration(
                "retention.interval", \.retention.interval, minimum: .milliseconds(100),
                doc: "how often a node tries to prune (one node at a time, advisory lock; 1000-row batches)"),
        ]
    }

    static var logSettings: [Setting] {
        [
            .choice("log.level", \.logLevel, doc: "the lowest level logged"),
            .choice("log.format", \.logFormat, doc: "`json` (one object per line), `text`, or `auto` (text on a terminal, JSON elsewhere)"),
            .duration(
                "log.repeat_window", \.logRepeatWindow, minimum: .zero,
                doc:
                    "an identical warning (a retry's `retry_in` and `backlog` aside) is written at most once per this; the count held back is written with the next line after it (`repeated`); `0` writes every one"
            ),
        ]
    }
}

/// The keys a target (`targets.<name>`) and the webhook (`webhook`) share: where and how a call is made. One
/// list, read into `RawTargetConfiguration` and validated by `TargetConfiguration` for both; only the defaults
/// and a few words differ.
struct CallBlock {
    /// The block's path: `targets.<name>` or `webhook`.
    let prefix: String
    /// The block's defaults.
    let defaults: TargetConfiguration.Defaults
    /// What a call is called in the block's docs: `call` or `delivery`.
    let call: String
    /// Who receives the calls: `target` or `webhook`.
    let receiver: String
    /// The `url` row's default and doc.
    let url: (defaultValue: String, doc: String)
    /// Words added to the doc of a key of this block only, by the key's name in the block.
    let notes: [String: String]

    /// `targets.<name>.*`.
    static let target = CallBlock(
        prefix: "targets.<name>", defaults: .target, call: "call", receiver: "target",
        url: ("required", "the `http://` or `https://` base URL of target `<name>` (the name attempts use in `target`)"),
        notes: ["timeout": "; a timeout is retryable", "max_attempts": " (a row's `max_attempts` overrides it)"])

    /// `webhook.*`.
    static let webhook = CallBlock(
        prefix: "webhook", defaults: WebhookConfiguration.callDefaults, call: "delivery", receiver: "webhook",
        url: ("none (no webhook)", "where failure events are posted"),
        notes: ["max_attempts": "; a failed delivery never produces another event"])

    /// The block's keys.
    var settings: [ConfigurationSetting<RawTargetConfiguration>] {
        func doc(_ name: String, _ text: String) -> String { text + (notes[name] ?? "") }
        let duration = { (value: Duration) in ConfigurationKey.code(DurationParser.format(value)) }
        return [
            .raw("\(prefix).url", \.url, type: "`http://` or `https://` URL", default: url.defaultValue, doc: url.doc),
            .raw(
                "\(prefix).timeout", \.timeout, type: "duration > 0", default: duration(defaults.timeout),
                doc: doc("timeout", "limit on a whole \(call)")),
            .init(
                "\(prefix).headers.<header>", type: "text", default: "none", secret: true,
                doc:
                    "a static request header sent with every \(call); values may use `${VAR}` and are treated as secrets. The environment can override a header the file declares, not add one"
            ) {
                values, key, raw throws(ConfigurationError) in
                guard let value = try values.raw(key.path, secret: true) else { return }
                raw.headers = raw.headers ?? [:]
                raw.headers?[key.name] = value
            },
            .number(
                "\(prefix).max_attempts", \.maxAttempts, type: "whole number ≥ 1", default: ConfigurationKey.code(defaults.maxAttempts),
                doc: doc("max_attempts", "tries of one \(call) before it fails")),
            .raw(
                "\(prefix).max_retry_duration", \.maxRetryDuration, type: "duration > 0", default: "none",
                doc: "a \(call) whose first try began longer ago than this fails at its next failure, whatever tries are left"),
            .raw(
                "\(prefix).backoff.base", \.backoffBlock.base, type: "duration > 0", default: duration(defaults.backoff.base),
                doc: "exponential backoff with full jitter: try n waits a random time up to `base × 2^(n-1)`"),
            .raw(
                "\(prefix).backoff.max", \.backoffBlock.max, type: "duration ≥ `backoff.base`", default: duration(defaults.backoff.max),
                doc: "the cap of that wait (a `Retry-After` answer is honoured instead)"),
            .number(
                "\(prefix).concurrency", \.concurrency, type: "whole number ≥ 1", default: ConfigurationKey.code(defaults.concurrency),
                doc: "\(call == "call" ? "calls" : "deliveries") in flight to this \(receiver) per node"),
            .raw(
                "\(prefix).tls.ca_file", \.tlsBlock.caFile, type: "file path", default: "system CAs",
                doc: "PEM bundle to verify the \(receiver)'s certificate"),
            .raw("\(prefix).tls.cert_file", \.tlsBlock.certFile, type: "file path", default: "none", doc: "client certificate (PEM) for mutual TLS"),
            .raw("\(prefix).tls.key_file", \.tlsBlock.keyFile, type: "file path", default: "none", doc: "the client certificate's private key (PEM)"),
            .flag(
                "\(prefix).tls.insecure_skip_verify", \.tlsBlock.insecureSkipVerify, default: false,
                doc: "skip certificate verification (development only)"),
        ] + (receiver == "target" ? clusterLimits : [])
    }

    /// The limits that hold for every node together (targets only): stored overrides (`asynctask targets set`)
    /// take their place until cleared.
    private var clusterLimits: [ConfigurationSetting<RawTargetConfiguration>] {
        let duration = { (value: Duration) in ConfigurationKey.code(DurationParser.format(value)) }
        return [
            .raw(
                "\(prefix).rate", \.rate, type: "`N/s`, `N/m` or `N/h`, N > 0", default: "none",
                doc: "calls per second to this target from all nodes together, retries included"),
            .number(
                "\(prefix).burst", \.burst, type: "whole number ≥ 0", default: "one second's worth of `rate`",
                doc: "calls beyond `rate` allowed after a quiet spell: over any second at most `rate × 1s + burst` calls"),
            .number(
                "\(prefix).global_concurrency", \.globalConcurrency, type: "whole number ≥ 1", default: "none",
                doc: "calls in flight to this target from all nodes together (attempts claimed ahead count as in flight)"),
            .raw(
                "\(prefix).ordering.on_failure", \.orderingBlock.onFailure, type: "`skip` or `block`", default: "`skip`",
                doc:
                    "when the head of an ordering key fails for good: `skip` runs the key's next attempt, `block` holds the rest until an operator retries the head or runs `asynctask targets unblock`"
            ),
            .number(
                "\(prefix).key_concurrency", \.keyConcurrency, type: "whole number ≥ 1", default: "none",
                doc: "calls in flight per `concurrency_key` of this target from all nodes together; attempts without a key are not limited"),
            .number(
                "\(prefix).circuit.failures", \.circuitBlock.failures, type: "whole number ≥ 1",
                default: "`\(CircuitSettings.defaultFailures)` once any `circuit` key is set; no circuit otherwise",
                doc: "retryable failures in a row, from all nodes together, that open the target's circuit (a success starts the count again)"),
            .raw(
                "\(prefix).circuit.window", \.circuitBlock.window, type: "duration > 0", default: duration(CircuitSettings.defaultWindow),
                doc: "a run of failures that began longer ago than this starts again"),
            .raw(
                "\(prefix).circuit.cooldown", \.circuitBlock.cooldown, type: "duration > 0", default: duration(CircuitSettings.defaultCooldown),
                doc: "how long an open circuit makes every node leave the target alone; waiting attempts keep their tries"),
            .number(
                "\(prefix).circuit.probes", \.circuitBlock.probes, type: "whole number ≥ 1",
                default: ConfigurationKey.code(CircuitSettings.defaultProbes),
                doc: "calls let through after the cooldown: all succeed and the circuit closes, one fails and it opens again"),
        ]
    }
}
