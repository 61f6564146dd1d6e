public import Foundation

/// A child process started by a test (a worker node, the example target), with its output in files, signals,
/// and a guaranteed kill when the test lets go of it.
public final class ManagedProcess: @unchecked Sendable {
    // Process is not Sendable; this wrapper only reads its pid/state and sends signals, which are safe from any
    // thread, and `run()` happens once in init before the object is shared.
    private let process: Process
    /// Where stdout and stderr go.
    public let stdoutFile: URL
    public let stderrFile: URL
    /// A label for messages.
    public let name: String

    /// Starts `asynctask <arguments>`, or `<launcher…> asynctask <arguments>` when `launcher` is given (e.g.
    /// `["/usr/sbin/ip", "netns", "exec", "NS"]`; a launcher that execs, so the pid is still the node's).
    public convenience init(name: String, arguments: [String], environment: [String: String] = [:], directory: URL, launcher: [String] = [])
        throws
    {
        let executable = try CommandRunner.executableURL()
        try self.init(name: name, command: launcher + [executable.path] + arguments, environment: environment, directory: directory)
    }

    /// Starts another program, `command[0]` with the rest as its arguments (e.g. a Ruby script), the same way.
    public init(name: String, command: [String], environment: [String: String] = [:], directory: URL) throws {
        self.name = name
        process = Process()
        process.executableURL = URL(fileURLWithPath: command.first ?? "/bin/false")
        process.arguments = Array(command.dropFirst())
        process.environment = CommandRunner.childEnvironment(adding: environment)
        stdoutFile = directory.appendingPathComponent("\(name).out")
        stderrFile = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal (SIGTERM, SIGKILL, SIGSTOP, SIGCONT, …).
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its status, or nil after `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Everything written to stdout so far.
    public var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    /// Everything written to stderr so far.
    public var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Waits until stdout contains `text`.
    public func waitForOutput(_ text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let output = stdout
            if output.contains(text) { return output }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("\(name) did not print '\(text)'; stdout: \(stdout.suffix(500)) stderr: \(stderr.suffix(1500))")
    }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(
    _ what: String, timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw TestSetupError("timed out after \(timeout) waiting for: \(what)")
}
