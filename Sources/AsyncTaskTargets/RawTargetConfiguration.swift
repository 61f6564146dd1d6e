/// A target's settings as written in the worker config file, before validation: every field
/// optional and textual where the file is (durations as `2s`, `${VAR}` not yet expanded).
///
/// Decodable with the file's snake_case keys, so a YAML or JSON loader can fill it directly;
/// durations may be strings or bare numbers of seconds.
public struct RawTargetConfiguration: Sendable, Hashable, Decodable {
    /// The `backoff` block.
    public struct RawBackoff: Sendable, Hashable, Decodable {
        /// `base`, e.g. `1s`.
        public var base: String?
        /// `max`, e.g. `1h`.
        public var max: String?

        /// Creates a raw backoff.
        public init(base: String? = nil, max: String? = nil) {
            self.base = base
            self.max = max
        }

        /// Decodes durations written as strings or numbers.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            base = try container.decodeDurationText(forKey: .base)
            max = try container.decodeDurationText(forKey: .max)
        }

        enum CodingKeys: String, CodingKey { case base, max }
    }

    /// The `tls` block.
    public struct RawTLS: Sendable, Hashable, Decodable {
        /// `ca_file`.
        public var caFile: String?
        /// `cert_file`.
        public var certFile: String?
        /// `key_file`.
        public var keyFile: String?
        /// `insecure_skip_verify`.
        public var insecureSkipVerify: Bool?

        /// Creates a raw TLS block.
        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, insecureSkipVerify: Bool? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.insecureSkipVerify = insecureSkipVerify
        }

        enum CodingKeys: String, CodingKey {
            case caFile = "ca_file"
            case certFile = "cert_file"
            case keyFile = "key_file"
            case insecureSkipVerify = "insecure_skip_verify"
        }
    }

    /// The `batch` block: present (even empty) means the target takes batched requests.
    public struct RawBatch: Sendable, Hashable, Decodable {
        /// `max`: attempts per request (default 100).
        public var max: Int?
        /// `linger`, e.g. `5ms` (default 5ms).
        public var linger: String?

        /// Creates a raw batch block.
        public init(max: Int? = nil, linger: String? = nil) {
            self.max = max
            self.linger = linger
        }

        /// Decodes `linger` written as a string or a number of seconds.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            max = try container.decodeIfPresent(Int.self, forKey: .max)
            linger = try container.decodeDurationText(forKey: .linger)
        }

        enum CodingKeys: String, CodingKey { case max, linger }
    }

    /// The `ordering` block: how the attempts of one ordering key behave.
    public struct RawOrdering: Sendable, Hashable, Decodable {
        /// `on_failure`: `skip` (default) or `block`.
        public var onFailure: String?

        /// Creates a raw ordering block.
        public init(onFailure: String? = nil) {
            self.onFailure = onFailure
        }

        enum CodingKeys: String, CodingKey {
            case onFailure = "on_failure"
        }
    }

    /// The `circuit` block: the target's circuit breaker, on once any key of it is written.
    public struct RawCircuit: Sendable, Hashable, Decodable {
        /// `failures` (default 20).
        public var failures: Int?
        /// `window`, e.g. `30s` (default 30s).
        public var window: String?
        /// `cooldown`, e.g. `30s` (default 30s).
        public var cooldown: String?
        /// `probes` (default 3).
        public var probes: Int?

        /// Creates a raw circuit block.
        public init(failures: Int? = nil, window: String? = nil, cooldown: String? = nil, probes: Int? = nil) {
            self.failures = failures
            self.window = window
            self.cooldown = cooldown
            self.probes = probes
        }

        /// Decodes durations written as strings or numbers of seconds.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            failures = try container.decodeIfPresent(Int.self, forKey: .failures)
            window = try container.decodeDurationText(forKey: .window)
            cooldown = try container.decodeDurationText(forKey: .cooldown)
            probes = try container.decodeIfPresent(Int.self, forKey: .probes)
        }

        enum CodingKeys: String, CodingKey { case failures, window, cooldown, probes }
    }

    /// `url` (required).
    public var url: String?
    /// `protocol`: `http` (default) or `jsonrpc`.
    public var `protocol`: String?
    /// `timeout`, e.g. `10s` (default 10s).
    public var timeout: String?
    /// `connect_timeout` (default: the smaller of `timeout` and 10s).
    public var connectTimeout: String?
    /// `headers`: static headers; values may hold `${VAR}`.
    public var headers: [String: String]?
    /// `max_attempts` (default 12).
    public var maxAttempts: Int?
    /// `backoff` (default `{ base: 1s, max: 1h }`).
    public var backoff: RawBackoff?
    /// `concurrency`: calls in flight to this target per node (default 64).
    public var concurrency: Int?
    /// `tls`.
    public var tls: RawTLS?
    /// `max_response_bytes` (default 1 MiB).
    public var maxResponseBytes: Int?
    /// `batch` (default: none, one request per attempt).
    public var batch: RawBatch?
    /// `max_retry_duration`, e.g. `24h` (default: none, only `max_attempts` ends retries).
    public var maxRetryDuration: String?
    /// `rate`, e.g. `200/s`: calls per second to this target from all nodes together (default: none).
    public var rate: String?
    /// `burst`: calls beyond the rate allowed after a quiet spell (default: one second's worth of `rate`).
    public var burst: Int?
    /// `global_concurrency`: calls in flight to this target from all nodes together (default: none).
    public var globalConcurrency: Int?
    /// `ordering` (default `{ on_failure: skip }`).
    public var ordering: RawOrdering?
    /// `key_concurrency`: calls in flight per `concurrency_key` from all nodes together (default: none).
    public var keyConcurrency: Int?
    /// `circuit` (default: no circuit breaker).
    public var circuit: RawCircuit?

    /// Creates raw settings.
    public init(
        url: String? = nil,
        protocol: String? = nil,
        timeout: String? = nil,
        connectTimeout: String? = nil,
        headers: [String: String]? = nil,
        maxAttempts: Int? = nil,
        backoff: RawBackoff? = nil,
        concurrency: Int? = nil,
        tls: RawTLS? = nil,
        maxResponseBytes: Int? = nil,
        batch: RawBatch? = nil,
        maxRetryDuration: String? = nil,
        rate: String? = nil,
        burst: Int? = nil,
        globalConcurrency: Int? = nil,
        ordering: RawOrdering? = nil,
        keyConcurrency: Int? = nil,
        circuit: RawCircuit? = nil
    ) {
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
        self.ordering = ordering
        self.keyConcurrency = keyConcurrency
        self.circuit = circuit
    }

    /// Decodes the file's keys; durations may be strings or numbers.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        `protocol` = try container.decodeIfPresent(String.self, forKey: .protocol)
        timeout = try container.decodeDurationText(forKey: .timeout)
        connectTimeout = try container.decodeDurationText(forKey: .connectTimeout)
        headers = try container.decodeIfPresent([String: String].self, forKey: .headers)
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts)
        backoff = try container.decodeIfPresent(RawBackoff.self, forKey: .backoff)
        concurrency = try container.decodeIfPresent(Int.self, forKey: .concurrency)
        tls = try container.decodeIfPresent(RawTLS.self, forKey: .tls)
        maxResponseBytes = try container.decodeIfPresent(Int.self, forKey: .maxResponseBytes)
        batch = try container.decodeIfPresent(RawBatch.self, forKey: .batch)
        maxRetryDuration = try container.decodeDurationText(forKey: .maxRetryDuration)
        rate = try container.decodeDurationText(forKey: .rate)
        burst = try container.decodeIfPresent(Int.self, forKey: .burst)
        globalConcurrency = try container.decodeIfPresent(Int.self, forKey: .globalConcurrency)
        ordering = try container.decodeIfPresent(RawOrdering.self, forKey: .ordering)
        keyConcurrency = try container.decodeIfPresent(Int.self, forKey: .keyConcurrency)
        circuit = try container.decodeIfPresent(RawCircuit.self, forKey: .circuit)
    }

    enum CodingKeys: String, CodingKey {
        case url, `protocol`, timeout
        case connectTimeout = "connect_timeout"
        case headers
        case maxAttempts = "max_attempts"
        case backoff, concurrency, tls
        case maxResponseBytes = "max_response_bytes"
        case batch
        case maxRetryDuration = "max_retry_duration"
        case rate, burst
        case globalConcurrency = "global_concurrency"
        case ordering
        case keyConcurrency = "key_concurrency"
        case circuit
    }
}

extension KeyedDecodingContainer {
    /// A duration written as a string (`2s`) or a bare number of seconds (`2`, `0.5`).
    func decodeDurationText(forKey key: Key) throws -> String? {
        if let text = try? decodeIfPresent(String.self, forKey: key) { return text }
        if let number = try decodeIfPresent(Double.self, forKey: key) { return "\(number)" }
        return nil
    }
}
