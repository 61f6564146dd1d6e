public import AsyncTaskCore
public import CurlHTTP
import Foundation

/// A validated target: where and how a node calls it (DESIGN §4). Built only through the
/// validating initialisers, so every value a node sees has been checked.
public struct TargetConfiguration: Sendable, Hashable {
    /// The default total timeout of a call.
    public static let defaultTimeout = Duration.seconds(10)
    /// The default number of tries of an attempt.
    public static let defaultMaxAttempts = AttemptTries.defaultMaximum
    /// The default number of calls in flight to one target per node.
    public static let defaultConcurrency = 64

    /// The values a config block takes for the keys it leaves out: a target's (``target``), or another
    /// block of the same keys with its own defaults (the webhook's).
    public struct Defaults: Sendable, Hashable {
        /// `timeout`.
        public var timeout: Duration
        /// `max_attempts`.
        public var maxAttempts: Int
        /// `backoff.base` and `backoff.max`.
        public var backoff: Backoff
        /// `concurrency`.
        public var concurrency: Int
        /// `max_response_bytes`.
        public var maxResponseBytes: Int

        /// Creates defaults; each one left out is a target's.
        public init(
            timeout: Duration = TargetConfiguration.defaultTimeout, maxAttempts: Int = TargetConfiguration.defaultMaxAttempts,
            backoff: Backoff = Backoff(), concurrency: Int = TargetConfiguration.defaultConcurrency,
            maxResponseBytes: Int = HTTPRequest.defaultMaxResponseBytes
        ) {
            self.timeout = timeout
            self.maxAttempts = maxAttempts
            self.backoff = backoff
            self.concurrency = concurrency
            self.maxResponseBytes = maxResponseBytes
        }

        /// A target's defaults (the README's configuration reference lists them).
        public static let target = Defaults()
    }

    /// The name attempts use in their `target` column.
    public let name: String
    /// The `http`/`https` base URL, with `${VAR}` expanded.
    public let url: String
    /// How calls are made.
    public let `protocol`: TargetProtocol
    /// Limit on a whole call.
    public let timeout: Duration
    /// Limit on connecting (TCP and TLS).
    public let connectTimeout: Duration
    /// Static headers sent with every call, values expanded.
    public let headers: HTTPHeaders
    /// How many tries an attempt gets unless its row says otherwise.
    public let maxAttempts: Int
    /// Delay between tries.
    public let backoff: Backoff
    /// Calls in flight to this target, per node.
    public let concurrency: Int
    /// TLS verification and client certificate.
    public let tls: TLSOptions
    /// The most response-body bytes read from a call.
    public let maxResponseBytes: Int
    /// Batched delivery (`batch`), or `nil` to send one request per attempt.
    public let batch: BatchSettings?
    /// `max_retry_duration`: an attempt whose first try began longer ago than this fails at its next failure,
    /// whatever tries are left (nil: only `maxAttempts` ends retries).
    public let maxRetryDuration: Duration?
    /// `rate`: calls per second to this target from all nodes together, retries included (nil: no limit).
    public let rate: CallRate?
    /// `burst`: calls beyond `rate` allowed after a quiet spell; over any second the target receives at most
    /// `rate × 1 s + burst` calls (nil: one second's worth of `rate`).
    public let burst: Int?
    /// `global_concurrency`: calls in flight to this target from all nodes together (nil: no limit).
    public let globalConcurrency: Int?
    /// `ordering.on_failure`: whether an ordering key moves on past a head that failed for good, or waits.
    public let orderingOnFailure: OrderingFailurePolicy
    /// `key_concurrency`: calls in flight per `concurrency_key` from all nodes together (nil: no limit).
    public let keyConcurrency: Int?
    /// `circuit`: the target's circuit breaker, shared by the cluster (nil: none).
    public let circuit: CircuitSettings?

    /// Validates typed values.
    /// - Throws: ``TargetConfigurationError`` naming this target and the first bad field.
    public init(
        name: String,
        url: String,
        protocol: TargetProtocol = .http,
        timeout: Duration = TargetConfiguration.defaultTimeout,
        connectTimeout: Duration? = nil,
        headers: HTTPHeaders = [:],
        maxAttempts: Int = TargetConfiguration.defaultMaxAttempts,
        backoff: Backoff = Backoff(),
        concurrency: Int = TargetConfiguration.defaultConcurrency,
        tls: TLSOptions = TLSOptions(),
        maxResponseBytes: Int = HTTPRequest.defaultMaxResponseBytes,
        batch: BatchSettings? = nil,
        maxRetryDuration: Duration? = nil,
        rate: CallRate? = nil,
        burst: Int? = nil,
        globalConcurrency: Int? = nil,
        orderingOnFailure: OrderingFailurePolicy = .default,
        keyConcurrency: Int? = nil,
        circuit: CircuitSettings? = nil
    ) throws(TargetConfigurationError) {
        func fail(_ field: String, _ code: TargetConfigurationError.Code, _ reason: String) -> TargetConfigurationError {
            TargetConfigurationError(target: name, field: field, code: code, reason: reason)
        }
        guard !name.isEmpty else { throw fail("name", .missing, "a target needs a name") }
        try Self.validateURL(url, protocol: `protocol`, fail: fail)
        guard timeout > .zero else { throw fail("timeout", .nonPositiveDuration, "must be positive (got \(timeout))") }
        let connectTimeout = connectTimeout ?? min(timeout, .seconds(10))
        guard connectTimeout > .zero else { throw fail("connect_timeout", .nonPositiveDuration, "must be positive (got \(connectTimeout))") }
        for field in headers {
            guard Self.isToken(field.name) else { throw fail("headers.\(field.name)", .invalidHeader, "the name is not an HTTP token") }
            guard !TargetRequestBuilder.reservedHeaders.contains(field.name.lowercased()) else {
                throw fail("headers.\(field.name)", .reservedHeader, "is set by AsyncTask on every call and cannot be configured")
            }
            guard field.value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw fail("headers.\(field.name)", .invalidHeader, "the value holds a control character (CR, LF, …)")
            }
        }
        guard maxAttempts >= 1 else { throw fail("max_attempts", .outOfRange, "must be at least 1 (got \(maxAttempts))") }
        guard backoff.base > .zero else { throw fail("backoff.base", .nonPositiveDuration, "must be positive (got \(backoff.base))") }
        guard backoff.max >= backoff.base else { throw fail("backoff.max", .outOfRange, "must be at least backoff.base (got \(backoff.max))") }
        guard concurrency >= 1 else { throw fail("concurrency", .outOfRange, "must be at least 1 (got \(concurrency))") }
        guard maxResponseBytes >= 1 else { throw fail("max_response_bytes", .outOfRange, "must be at least 1 (got \(maxResponseBytes))") }
        for (field, path) in [("tls.ca_file", tls.caFile), ("tls.cert_file", tls.certFile), ("tls.key_file", tls.keyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw fail(field, .unreadableFile, "'\(path)' does not exist or cannot be read")
            }
        }
        if let maxRetryDuration, maxRetryDuration <= .zero {
            throw fail("max_retry_duration", .nonPositiveDuration, "must be positive (got \(maxRetryDuration))")
        }
        if let burst, burst < 0 { throw fail("burst", .outOfRange, "must be 0 or more (got \(burst))") }
        if burst != nil, rate == nil { throw fail("burst", .missing, "a burst needs a rate") }
        if let globalConcurrency, globalConcurrency < 1 {
            throw fail("global_concurrency", .outOfRange, "must be at least 1 (got \(globalConcurrency))")
        }
        if let keyConcurrency, keyConcurrency < 1 {
            throw fail("key_concurrency", .outOfRange, "must be at least 1 (got \(keyConcurrency))")
        }
        if tls.keyFile != nil, tls.certFile == nil {
            throw fail("tls.key_file", .missing, "a client key needs tls.cert_file")
        }

        self.name = name
        self.url = url
        self.protocol = `protocol`
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.headers = headers
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.concurrency = concurrency
        self.tls = tls
        self.maxResponseBytes = maxResponseBytes
        self.batch = batch
        self.maxRetryDuration = maxRetryDuration
        self.rate = rate
        self.burst = burst
        self.globalConcurrency = globalConcurrency
        self.orderingOnFailure = orderingOnFailure
        self.keyConcurrency = keyConcurrency
        self.circuit = circuit
    }

    /// Validates the config file's values: parses durations and expands `${VAR}` in the URL,
    /// header values and TLS paths from `environment`; a value `raw` leaves out takes its default from `defaults`.
    /// - Throws: ``TargetConfigurationError`` naming this target and the first bad field.
    public init(
        name: String, raw: RawTargetConfiguration, environment: [String: String], defaults: Defaults = .target
    ) throws(TargetConfigurationError) {
        func fail(_ field: String, _ code: TargetConfigurationError.Code, _ reason: String) -> TargetConfigurationError {
            TargetConfigurationError(target: name, field: field, code: code, reason: reason)
        }
        func expand(_ text: String, field: String) throws(TargetConfigurationError) -> String {
            do {
                return try EnvironmentExpansion.expand(text, environment: environment)
            } catch {
                throw fail(field, .environment, error.description)
            }
        }
        func duration(_ text: String?, field: String) throws(TargetConfigurationError) -> Duration? {
            guard let text else { return nil }
            let value: Duration
            do {
                value = try DurationParser.parse(text)
            } catch {
                throw fail(field, .invalidDuration, error.description)
            }
            guard value > .zero else { throw fail(field, .nonPositiveDuration, "must be positive (got '\(text)')") }
            return value
        }

        guard let rawURL = raw.url, !rawURL.isEmpty else { throw fail("url", .missing, "is required") }
        let url = try expand(rawURL, field: "url")
        let targetProtocol: TargetProtocol
        if let text = raw.protocol {
            guard let value = TargetProtocol(rawValue: text) else {
                throw fail("protocol", .unknownProtocol, "'\(text)' is not one of \(TargetProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            targetProtocol = value
        } else {
            targetProtocol = .http
        }
        var headers = HTTPHeaders()
        for (headerName, value) in (raw.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            headers.add(name: headerName, value: try expand(value, field: "headers.\(headerName)"))
        }
        let tls = TLSOptions(
            caFile: try raw.tls?.caFile.map { (path) throws(TargetConfigurationError) in try expand(path, field: "tls.ca_file") },
            certFile: try raw.tls?.certFile.map { (path) throws(TargetConfigurationError) in try expand(path, field: "tls.cert_file") },
            keyFile: try raw.tls?.keyFile.map { (path) throws(TargetConfigurationError) in try expand(path, field: "tls.key_file") },
            insecureSkipVerify: raw.tls?.insecureSkipVerify ?? false
        )
        try self.init(
            name: name,
            url: url,
            protocol: targetProtocol,
            timeout: try duration(raw.timeout, field: "timeout") ?? defaults.timeout,
            connectTimeout: try duration(raw.connectTimeout, field: "connect_timeout"),
            headers: headers,
            maxAttempts: raw.maxAttempts ?? defaults.maxAttempts,
            backoff: Backoff(
                base: try duration(raw.backoff?.base, field: "backoff.base") ?? defaults.backoff.base,
                max: try duration(raw.backoff?.max, field: "backoff.max") ?? defaults.backoff.max
            ),
            concurrency: raw.concurrency ?? defaults.concurrency,
            tls: tls,
            maxResponseBytes: raw.maxResponseBytes ?? defaults.maxResponseBytes,
            batch: try raw.batch.map { (batch) throws(TargetConfigurationError) in try Self.batchSettings(batch, target: name) },
            maxRetryDuration: try duration(raw.maxRetryDuration, field: "max_retry_duration"),
            rate: try raw.rate.map { (text) throws(TargetConfigurationError) in try Self.rate(text, target: name) },
            burst: raw.burst,
            globalConcurrency: raw.globalConcurrency,
            orderingOnFailure: try Self.orderingPolicy(raw.ordering?.onFailure, target: name),
            keyConcurrency: raw.keyConcurrency,
            circuit: try raw.circuit.map { (circuit) throws(TargetConfigurationError) in
                try CircuitSettings(
                    failures: circuit.failures ?? CircuitSettings.defaultFailures,
                    window: try duration(circuit.window, field: "circuit.window") ?? CircuitSettings.defaultWindow,
                    cooldown: try duration(circuit.cooldown, field: "circuit.cooldown") ?? CircuitSettings.defaultCooldown,
                    probes: circuit.probes ?? CircuitSettings.defaultProbes, target: name)
            }
        )
    }

    /// `ordering.on_failure` read from the file's text.
    private static func orderingPolicy(_ text: String?, target: String) throws(TargetConfigurationError) -> OrderingFailurePolicy {
        guard let text else { return .default }
        guard let policy = OrderingFailurePolicy(rawValue: text) else {
            let words = OrderingFailurePolicy.allCases.map(\.rawValue).joined(separator: " or ")
            throw TargetConfigurationError(
                target: target, field: "ordering.on_failure", code: .unknownChoice, reason: "'\(text)' is not \(words)")
        }
        return policy
    }

    /// `rate` read from the file's text.
    private static func rate(_ text: String, target: String) throws(TargetConfigurationError) -> CallRate {
        do throws(CallRate.Error) {
            return try CallRate(parsing: text)
        } catch {
            throw TargetConfigurationError(target: target, field: "rate", code: .invalidRate, reason: error.description)
        }
    }

    /// `batch.max` and `batch.linger` (zero allowed: send what has gathered by the next turn of the scheduler).
    private static func batchSettings(_ raw: RawTargetConfiguration.RawBatch, target: String) throws(TargetConfigurationError) -> BatchSettings {
        var linger = BatchSettings.defaultLinger
        if let text = raw.linger {
            do {
                linger = try DurationParser.parse(text)
            } catch {
                throw TargetConfigurationError(target: target, field: "batch.linger", code: .invalidDuration, reason: error.description)
            }
        }
        return try BatchSettings(max: raw.max ?? BatchSettings.defaultMax, linger: linger, target: target)
    }

    private static func validateURL(
        _ url: String,
        protocol: TargetProtocol,
        fail: (String, TargetConfigurationError.Code, String) -> TargetConfigurationError
    ) throws(TargetConfigurationError) {
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }), let components = URLComponents(string: url) else {
            throw fail("url", .invalidURL, "is not a valid URL")
        }
        guard let scheme = components.scheme?.lowercased() else { throw fail("url", .invalidURL, "has no scheme (write http:// or https://)") }
        guard scheme == "http" || scheme == "https" else { throw fail("url", .unsupportedScheme, "scheme '\(scheme)' is not http or https") }
        guard let host = components.host, !host.isEmpty else { throw fail("url", .invalidURL, "has no host") }
        guard components.fragment == nil else { throw fail("url", .invalidURL, "must not have a #fragment") }
        if `protocol` == .http, components.query != nil {
            throw fail("url", .invalidURL, "must not have a ?query with protocol http (the method name is appended to the path)")
        }
    }

    private static func isToken(_ string: String) -> Bool {
        !string.isEmpty
            && string.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }
}
