import CurlHTTP
import Foundation
import Logging

/// Runs an engine for the duration of `body`, then cancels its `run()`.
func withRunningEngine<T>(
    _ configuration: HTTPEngine.Configuration = HTTPEngine.Configuration(),
    _ body: (HTTPEngine) async throws -> T
) async throws -> T {
    let engine = HTTPEngine(configuration: configuration, logger: Logger(label: "test"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await engine.run() }
        do {
            let result = try await body(engine)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// The error of a request that is expected to fail, or `nil` if it got a response.
func failure(of request: HTTPRequest, on engine: HTTPEngine) async -> HTTPClientError? {
    do {
        _ = try await engine.execute(request)
        return nil
    } catch {
        return error
    }
}

/// Seconds elapsed while running `body`.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let result = try await body()
    let elapsed = start.duration(to: .now)
    return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Resident set size of this process in bytes, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// The JSON object that the test server's `/echo` route returns.
struct Echo: Decodable {
    var method: String
    var uri: String
    var headers: [[String]]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }?.last
    }

    static func decode(_ response: HTTPResponse) throws -> Echo {
        try JSONDecoder().decode(Echo.self, from: Data(response.body))
    }
}
