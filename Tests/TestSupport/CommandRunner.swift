public import Foundation

/// Runs the built `asynctask` executable as a child process and captures its output, as a user's shell would.
public struct CommandRunner: Sendable {
    /// What a finished command produced.
    public typealias Output = ChildProcess.Output

    /// The executable: `$ASYNCTASK_BIN`, else `asynctask` next to the test bundle (SwiftPM puts both in the
    /// same build folder).
    public static func executableURL() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["ASYNCTASK_BIN"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("asynctask")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw TestSetupError(
            "cannot find the asynctask executable next to \(CommandLine.arguments[0]); build it with `swift build` or set ASYNCTASK_BIN")
    }

    public init() {}

    /// This process's environment without the database variables (tests choose the database explicitly),
    /// with `environment` added on top.
    static func childEnvironment(adding environment: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["ASYNCTASK_DATABASE_URL"] = nil
        env["DATABASE_URL"] = nil
        env.merge(environment) { $1 }
        return env
    }

    /// Runs `asynctask <arguments>` with `environment` added to (and overriding) this process's environment.
    /// `ASYNCTASK_DATABASE_URL` and `DATABASE_URL` are removed unless given, so tests control the lookup.
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> Output {
        try await ChildProcess.run(
            [try Self.executableURL().path] + arguments, environment: Self.childEnvironment(adding: environment), timeout: timeout)
    }
}
