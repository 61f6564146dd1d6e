public import AsyncTask
public import AsyncTaskTargets
public import Foundation
public import Logging

/// Everything one worker node needs, validated (DESIGN §4): where the database is, how the node claims and
/// leases, and the targets it serves.
///
/// Load it with `WorkerConfiguration.load(file:environment:)`, which reads the YAML file through
/// swift-configuration with `ASYNCTASK_*` environment variables taking precedence.
public struct WorkerConfiguration: Sendable {
    /// Node behaviour: capacity, leases, heartbeat, timing.
    public struct Node: Sendable, Hashable {
        /// Identifies the node in `async_task_nodes` and in leases; random per process unless configured.
        public var id: UUID
        /// Shown in the nodes table.
        public var hostname: String
        /// Calls in flight at most on this node.
        public var concurrency: Int
        /// How long a claim holds an attempt before others may take it.
        public var lease: Duration
        /// How often the node reports itself alive and renews its leases.
        public var heartbeat: Duration
        /// A node silent for this long is marked dead and its leases are released.
        public var deadAfter: Duration
        /// How often to look for due work without a notification (scheduled and retried attempts).
        public var pollInterval: Duration
        /// How long a stopping node lets in-flight calls finish.
        public var shutdownGrace: Duration
        /// Attempts claimed at most per claim statement.
        public var claimBatch: Int
        /// Claim loops running at once (each claims in its own round trip, within the same caps).
        public var claimers: Int
        /// How long outcomes wait to be recorded together.
        public var flushInterval: Duration
        /// Outcomes recorded at most per statement.
        public var flushBatch: Int
        /// Outcome flushes under way at most at once, each with its own batch.
        public var flushers: Int
        /// Outcomes kept in memory at most while the database is unreachable.
        public var maxBufferedOutcomes: Int
        /// Attempts claimed at most ahead of free slots (the prefetch buffer, sized from the observed call rate
        /// up to this), so a slot that frees starts its next call without waiting for a claim; 0 turns it off.
        public var prefetch: Int
        /// Calls inside libcurl at most at once (0: no bound); further calls wait in the node's own queue with
        /// their timeout running, the targets taking turns.
        public var httpTransfers: Int

        /// The defaults of `node.*`: the key table (WorkerConfiguration+Keys.swift) reads them from here for the
        /// README's configuration reference, so each is written once.
        public init(
            id: UUID = UUID(), hostname: String = ProcessInfo.processInfo.hostName, concurrency: Int = 512,
            lease: Duration = .seconds(30), heartbeat: Duration = .seconds(2), deadAfter: Duration = LiveNodes.defaultDeadAfter,
            pollInterval: Duration = .seconds(1), shutdownGrace: Duration = .seconds(25), claimBatch: Int = 256, claimers: Int = 2,
            flushInterval: Duration = .milliseconds(10), flushBatch: Int = 500, flushers: Int = 2, maxBufferedOutcomes: Int = 100_000,
            prefetch: Int = 256,
            httpTransfers: Int = 0
        ) {
            self.id = id
            self.hostname = hostname
            self.concurrency = concurrency
            self.lease = lease
            self.heartbeat = heartbeat
            self.deadAfter = deadAfter
            self.pollInterval = pollInterval
            self.shutdownGrace = shutdownGrace
            self.claimBatch = claimBatch
            self.claimers = claimers
            self.flushInterval = flushInterval
            self.flushBatch = flushBatch
            self.flushers = flushers
            self.maxBufferedOutcomes = maxBufferedOutcomes
            self.prefetch = prefetch
            self.httpTransfers = httpTransfers
        }
    }

    /// The admin HTTP server of the node (`admin.*`).
    public struct Admin: Sendable, Hashable {
        /// False when `admin.listen` is `off`.
        public var enabled: Bool
        /// The address to bind (loopback by default).
        public var host: String
        /// The port (0 picks a free one, reported in the log).
        public var port: Int
        /// The bearer token for mutating actions (a secret); nil disables them.
        public var token: String?
        /// The token the dashboard and JSON API ask for (a secret); nil leaves them open to whoever reaches the port.
        public var readToken: String?

        /// Defaults: enabled on `127.0.0.1:9090`, no tokens.
        public init(enabled: Bool = true, host: String = "127.0.0.1", port: Int = 9090, token: String? = nil, readToken: String? = nil) {
            self.enabled = enabled
            self.host = host
            self.port = port
            self.token = token
            self.readToken = readToken
        }
    }

    /// How long finished attempts are kept (`retention.*`), applied by one node at a time.
    public struct Retention: Sendable, Hashable {
        /// Succeeded attempts are deleted this long after completion.
        public var succeeded: Duration
        /// Failed and expired attempts are deleted this long after completion.
        public var failed: Duration
        /// How often a node tries to prune.
        public var interval: Duration

        /// Defaults: 7 days, 30 days, every minute.
        public init(succeeded: Duration = .seconds(7 * 86_400), failed: Duration = .seconds(30 * 86_400), interval: Duration = .seconds(60)) {
            self.succeeded = succeeded
            self.failed = failed
            self.interval = interval
        }
    }

    /// The PostgreSQL URL (a secret: it may hold a password).
    public var databaseURL: String
    /// Connections the node's pool opens at most.
    public var databasePoolSize: Int
    /// Node behaviour.
    public var node: Node
    /// The targets this node serves, by name.
    public var targets: [String: TargetConfiguration]
    /// Where failure events go; nil for no webhook.
    public var webhook: WebhookConfiguration?
    /// Keys for encrypted `method_args` (`encryption.primary`, `encryption.keys.<id>`); nil when none are
    /// configured, in which case rows with an `encryptor` fail with error kind `decryption`.
    public var encryption: KeyRing?
    /// The admin HTTP server.
    public var admin: Admin
    /// Retention of finished attempts.
    public var retention: Retention
    /// Minimum log level.
    public var logLevel: Logger.Level
    /// `json` for log lines as JSON objects, `text` for people, `auto` for text on a terminal and JSON elsewhere.
    public var logFormat: LogFormat
    /// An identical warning is written at most once per this; zero writes every one.
    public var logRepeatWindow: Duration

    /// How log lines are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        case auto, json, text
    }

    /// Creates a configuration from validated parts.
    public init(
        databaseURL: String, databasePoolSize: Int = 8, node: Node = Node(), targets: [String: TargetConfiguration],
        webhook: WebhookConfiguration? = nil, encryption: KeyRing? = nil, admin: Admin = Admin(), retention: Retention = Retention(),
        logLevel: Logger.Level = .info, logFormat: LogFormat = .auto, logRepeatWindow: Duration = .seconds(60)
    ) {
        self.webhook = webhook
        self.admin = admin
        self.retention = retention
        self.databaseURL = databaseURL
        self.databasePoolSize = databasePoolSize
        self.node = node
        self.targets = targets
        self.encryption = encryption
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.logRepeatWindow = logRepeatWindow
    }
}

extension WorkerConfiguration {
    /// The targets this node claims for: the configured ones, plus the reserved webhook target when a webhook
    /// is configured.
    public var servedTargets: [String: TargetConfiguration] {
        var served = targets
        if let webhook { served[webhook.target.name] = webhook.target }
        return served
    }
}

extension WebhookConfiguration {
    /// What the event trigger reads from `async_task_settings`.
    var settingsJSON: String {
        let events = events.map(\.rawValue).sorted().map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"events":[\#(events)],"include_args":\#(includeArgs)}"#
    }
}

/// A configuration value that is missing or wrong, named by its key (`node.lease`, `targets.OrderClient.url`,
/// …); the same key names the file's entry and, through the `ASYNCTASK_` rule, its environment override.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The dotted key, as in the YAML file.
    public let key: String
    /// What is wrong.
    public let reason: String

    /// Creates the error.
    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "config \(key): \(reason)" }
}

extension WorkerConfiguration {
    /// The encryptor for this configuration's keys: AES-256-GCM over the key ring, or plaintext without keys.
    public var encryptor: any Encryptor {
        encryption.map { AESGCMEncryptor(keyRing: $0) } ?? NullEncryptor()
    }
}
