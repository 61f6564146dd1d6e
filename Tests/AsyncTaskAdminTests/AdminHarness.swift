import AsyncTask
import AsyncTaskAdmin
import Foundation
import Logging
import PostgresClient
import Prometheus
import ServiceLifecycle
import Synchronization
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The node as the admin server sees it, with a draining switch the test flips.
final class TestNode: NodeStatusProvider {
    let id = UUID()
    private let draining = Atomic<Bool>(false)
    var isDraining: Bool { draining.load(ordering: .acquiring) }
    var inFlight: Int { 0 }
    func drain() { draining.store(true, ordering: .releasing) }
}

/// A real admin server on a loopback port against a test database, and a plain HTTP client for it.
struct AdminHarness {
    let baseURL: String
    let node: TestNode
    let registry: PrometheusCollectorRegistry

    /// An HTTP exchange's result.
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
    }

    /// Serves `database` for the duration of `body`.
    static func with(
        database: TestDatabase, token: String? = nil, readToken: String? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: (AdminHarness) async throws -> Void
    ) async throws {
        let node = TestNode()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "admin-test")
        logger.logLevel = .warning
        let server = AdminServer(
            configuration: .init(host: "127.0.0.1", port: 0, token: token, metricsRefresh: .zero, readToken: readToken),
            database: database.configuration, node: node, registry: registry, logger: logger,
            onListening: { _, port in continuation.yield(port) })
        // In a ServiceGroup, as in the worker, so the test ends it with a graceful shutdown.
        let group = ServiceGroup(services: [server], logger: logger)
        let task = Task { try await group.run() }
        defer { task.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestSetupError("admin server did not start") }
        do {
            try await body(AdminHarness(baseURL: "http://127.0.0.1:\(port)", node: node, registry: registry))
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A POST; redirects are not followed.
    func post(_ path: String, headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        try await request(path, method: "POST", headers: headers, body: body)
    }

    /// One request; redirects are not followed, so a 303 is seen as such.
    func request(_ path: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body.utf8) }
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
        return Reply(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
    }
}

/// Keeps redirects visible to the test.
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// Seeds attempts with given statuses through the real enqueue and action paths.
enum Seed {
    /// Enqueues `count` attempts for `target`; returns their ids.
    static func enqueue(_ count: Int, target: String, on connection: PostgresConnection) async throws -> [Int64] {
        let attempts = try (0..<count).map { n in
            try Attempt(target: target, method: "fulfill", argumentsJSON: Data(#"{"order":\#(n),"card":"4111-secret"}"#.utf8))
        }
        return try await AttemptQueue().enqueue(attempts, on: connection)
    }

    /// A scalar from SQL (test-side checks against the database).
    static func scalar(_ sql: String, _ binds: [any PostgresEncodable] = [], on connection: PostgresConnection) async throws -> Int {
        try await connection.query(PostgresStatement(name: "scalar", sql: sql, isPrepared: false), binds).single().decode(Int.self, at: 0)
    }
}

/// Checks text against the Prometheus exposition format (0.0.4): comment lines, `# TYPE` before a family's
/// samples, valid metric and label names, escaped label values, numeric values.
enum PrometheusExposition {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// The samples, or a description of the first malformed line.
    static func parse(_ text: String) throws -> [Sample] {
        var samples: [Sample] = []
        var typed: [String: String] = [:]
        let validTypes: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(line)
            if line.isEmpty { continue }
            func fail(_ reason: String) -> TestSetupError { TestSetupError("line \(number + 1) '\(line)': \(reason)") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                if parts.count >= 2 && parts[1] == "TYPE" {
                    guard parts.count == 4, isMetricName(parts[2]), validTypes.contains(parts[3]) else { throw fail("bad TYPE line") }
                    guard typed[parts[2]] == nil else { throw fail("second TYPE line for \(parts[2])") }
                    typed[parts[2]] = parts[3]
                }
                continue
            }
            var index = line.startIndex
            while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
            let name = String(line[..<index])
            guard isMetricName(name) else { throw fail("bad metric name") }
            var labels: [String: String] = [:]
            if index < line.endIndex, line[index] == "{" {
                guard let close = line.lastIndex(of: "}") else { throw fail("unclosed label set") }
                var rest = Substring(line[line.index(after: index)..<close])
                while !rest.isEmpty {
                    guard let equals = rest.firstIndex(of: "=") else { throw fail("label without =") }
                    let label = String(rest[..<equals])
                    guard isLabelName(label) else { throw fail("bad label name \(label)") }
                    rest = rest[rest.index(after: equals)...]
                    guard rest.first == "\"" else { throw fail("label value not quoted") }
                    rest = rest.dropFirst()
                    var value = ""
                    while let character = rest.first, character != "\"" {
                        if character == "\\" {
                            rest = rest.dropFirst()
                            guard let escaped = rest.first, "\\\"n".contains(escaped) else { throw fail("bad escape") }
                            value.append(escaped == "n" ? "\n" : escaped)
                        } else {
                            value.append(character)
                        }
                        rest = rest.dropFirst()
                    }
                    guard rest.first == "\"" else { throw fail("unterminated label value") }
                    rest = rest.dropFirst()
                    labels[label] = value
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                index = line.index(after: close)
            }
            let fields = line[index...].split(separator: " ")
            guard (1...2).contains(fields.count),
                let value = Double(fields[0]) ?? ["+Inf": Double.infinity, "-Inf": -.infinity, "NaN": .nan][String(fields[0])]
            else {
                throw fail("bad value")
            }
            let family = ["_bucket", "_sum", "_count"].reduce(name) { base, suffix in
                base.hasSuffix(suffix) && typed[String(base.dropLast(suffix.count))] != nil ? String(base.dropLast(suffix.count)) : base
            }
            guard typed[family] != nil else { throw fail("sample before its # TYPE line") }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        return samples
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, CharacterSet.letters.contains(first) || first == "_" || first == ":" else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == ":") }
    }

    static func isLabelName(_ name: String) -> Bool {
        isMetricName(name) && !name.contains(":")
    }
}
