import AsyncTaskTargets
import CurlHTTP
import Foundation
import Testing

struct TargetConfigurationTests {
    let environment = ["ORDERS_TOKEN": "t0k", "ORDERS_HOST": "orders.internal"]

    @Test func buildsFromTheConfigFileWithDefaultsAndExpansion() throws {
        let json = #"""
            {"url": "http://${ORDERS_HOST}:8080/rpc", "protocol": "jsonrpc", "timeout": "2s",
             "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}"}, "max_attempts": 5,
             "backoff": {"base": "250ms", "max": 60}, "concurrency": 8}
            """#
        let raw = try JSONDecoder().decode(RawTargetConfiguration.self, from: Data(json.utf8))
        let target = try TargetConfiguration(name: "OrderClient", raw: raw, environment: environment)
        #expect(target.name == "OrderClient")
        #expect(target.url == "http://orders.internal:8080/rpc")
        #expect(target.protocol == .jsonrpc)
        #expect(target.timeout == .seconds(2))
        #expect(target.connectTimeout == .seconds(2))
        #expect(target.headers["authorization"] == "Bearer t0k")
        #expect(target.maxAttempts == 5)
        #expect(target.backoff == Backoff(base: .milliseconds(250), max: .seconds(60)))
        #expect(target.concurrency == 8)
        #expect(target.tls == TLSOptions())

        let minimal = try TargetConfiguration(name: "M", raw: RawTargetConfiguration(url: "https://m.internal"), environment: [:])
        #expect(minimal.protocol == .http)
        #expect(minimal.timeout == .seconds(10))
        #expect(minimal.maxAttempts == 12)
        #expect(minimal.concurrency == 64)
        #expect(minimal.backoff == Backoff(base: .seconds(1), max: .seconds(3600)))
        #expect(minimal.tls.insecureSkipVerify == false)
        #expect(minimal.maxResponseBytes == 1 << 20)
    }

    /// (raw config, field named in the error, error code)
    static let invalid: [(RawTargetConfiguration, String, TargetConfigurationError.Code)] = [
        (RawTargetConfiguration(), "url", .missing),
        (RawTargetConfiguration(url: "not a url"), "url", .invalidURL),
        (RawTargetConfiguration(url: "ftp://files.internal/x"), "url", .unsupportedScheme),
        (RawTargetConfiguration(url: "orders.internal:8080"), "url", .unsupportedScheme),
        (RawTargetConfiguration(url: "http:///path"), "url", .invalidURL),
        (RawTargetConfiguration(url: "http://h/x#frag"), "url", .invalidURL),
        (RawTargetConfiguration(url: "http://h/x?a=1"), "url", .invalidURL),
        (RawTargetConfiguration(url: "http://${MISSING_HOST}/"), "url", .environment),
        (RawTargetConfiguration(url: "http://h", protocol: "grpc"), "protocol", .unknownProtocol),
        (RawTargetConfiguration(url: "http://h", timeout: "-1s"), "timeout", .nonPositiveDuration),
        (RawTargetConfiguration(url: "http://h", timeout: "0"), "timeout", .nonPositiveDuration),
        (RawTargetConfiguration(url: "http://h", timeout: "10 parsecs"), "timeout", .invalidDuration),
        (RawTargetConfiguration(url: "http://h", connectTimeout: "-5ms"), "connect_timeout", .nonPositiveDuration),
        (RawTargetConfiguration(url: "http://h", headers: ["Authorization": "Bearer ${NOPE}"]), "headers.Authorization", .environment),
        (RawTargetConfiguration(url: "http://h", headers: ["X-A": "1\r\nX-B: 2"]), "headers.X-A", .invalidHeader),
        (RawTargetConfiguration(url: "http://h", headers: ["Bad Name": "1"]), "headers.Bad Name", .invalidHeader),
        (RawTargetConfiguration(url: "http://h", headers: ["Idempotency-Key": "k"]), "headers.Idempotency-Key", .reservedHeader),
        (RawTargetConfiguration(url: "http://h", maxAttempts: 0), "max_attempts", .outOfRange),
        (RawTargetConfiguration(url: "http://h", backoff: .init(base: "0s")), "backoff.base", .nonPositiveDuration),
        (RawTargetConfiguration(url: "http://h", backoff: .init(base: "10s", max: "1s")), "backoff.max", .outOfRange),
        (RawTargetConfiguration(url: "http://h", concurrency: 0), "concurrency", .outOfRange),
        (RawTargetConfiguration(url: "http://h", tls: .init(caFile: "/nonexistent/ca.pem")), "tls.ca_file", .unreadableFile),
        (RawTargetConfiguration(url: "http://h", tls: .init(caFile: "${CA_DIR}/ca.pem")), "tls.ca_file", .environment),
    ]

    @Test(arguments: 0..<invalid.count)
    func rejectsWithTheTargetAndTheField(_ index: Int) {
        let (raw, field, code) = Self.invalid[index]
        do {
            _ = try TargetConfiguration(name: "OrderClient", raw: raw, environment: environment)
            Issue.record("accepted invalid config #\(index) (field \(field))")
        } catch {
            #expect(error.target == "OrderClient")
            #expect(error.field == field)
            #expect(error.code == code)
            #expect(error.description.hasPrefix("target 'OrderClient': \(field): "))
        }
    }

    @Test func errorsNeverShowHeaderValues() {
        do {
            _ = try TargetConfiguration(
                name: "T", raw: RawTargetConfiguration(url: "http://h", headers: ["Authorization": "Bearer s3cret\n"]), environment: [:]
            )
            Issue.record("accepted a header with a newline")
        } catch {
            #expect(!error.description.contains("s3cret"))
        }
    }
}
