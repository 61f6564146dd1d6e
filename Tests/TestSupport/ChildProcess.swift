public import Foundation

/// Running a short command from a parallel test run without the ways it can hang.
///
/// Foundation's `Process` lets a child inherit the descriptors the test process has open at that moment. A
/// pipe that another test reads a command's output from can end up in a long-lived child (a worker node,
/// Chromium) started in the same instant, and then that read never reaches end-of-file: a run once hung this
/// way, with two blocking pipe reads holding both threads of the cooperative pool. So output goes to files,
/// read after the exit, and the exit is awaited by polling `isRunning`, never by `waitUntilExit()` or a
/// blocking read on a concurrency thread.
public enum ChildProcess {
    /// What a finished command produced.
    public struct Output: Sendable {
        public let exitCode: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The `bash` invocation that closes every descriptor it inherited above stderr and then execs `command`
    /// (same pid). For commands that fork something long-lived (pg_ctl starting a server), which would otherwise
    /// keep Foundation's exit watch for the command open and the command would never look finished. Only for
    /// short commands: once the watch closes, Foundation waits for the exit on the one thread that notices
    /// every child's exit, so a long-lived child started this way would stall all the others.
    static func closingInherited(_ command: [String]) -> [String] {
        let script = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done 2>/dev/null; exec "$@""#
        return ["/bin/bash", "-c", script, "bash"] + command
    }

    /// Runs `command` to its end: stdout and stderr in temp files, the exit awaited by polling (never
    /// `waitUntilExit()` or a blocking read on a concurrency thread). Killed and reported after `timeout`.
    /// - Parameter closingInheritedDescriptors: run through ``closingInherited(_:)`` (for pg_ctl).
    public static func run(
        _ command: [String], environment: [String: String]? = nil, directory: URL? = nil, timeout: Duration = .seconds(60),
        closingInheritedDescriptors: Bool = false
    ) async throws -> Output {
        let launched = try Launched(
            closingInheritedDescriptors ? closingInherited(command) : command, environment: environment, directory: directory)
        defer { launched.removeFiles() }
        let deadline = ContinuousClock.now + timeout
        while launched.process.isRunning {
            try launched.killIfPast(deadline, command: command, timeout: timeout)
            try await Task.sleep(for: .milliseconds(10))
        }
        return launched.output()
    }

    /// The same for synchronous test setup (outside async code): polls by sleeping the calling thread, so only
    /// for commands that take milliseconds (openssl, `ip`).
    public static func runBlocking(
        _ command: [String], environment: [String: String]? = nil, directory: URL? = nil, timeout: Duration = .seconds(30)
    ) throws -> Output {
        let launched = try Launched(command, environment: environment, directory: directory)
        defer { launched.removeFiles() }
        let deadline = ContinuousClock.now + timeout
        while launched.process.isRunning {
            try launched.killIfPast(deadline, command: command, timeout: timeout)
            usleep(2_000)
        }
        return launched.output()
    }

    /// A started command whose stdout and stderr go to files in a directory of their own.
    private struct Launched {
        let process = Process()
        let files: URL

        init(_ argv: [String], environment: [String: String]?, directory: URL?) throws {
            files = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-child-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
            do {
                _ = FileManager.default.createFile(atPath: files.appendingPathComponent("stdout").path, contents: nil)
                _ = FileManager.default.createFile(atPath: files.appendingPathComponent("stderr").path, contents: nil)
                let out = try FileHandle(forWritingTo: files.appendingPathComponent("stdout"))
                let err = try FileHandle(forWritingTo: files.appendingPathComponent("stderr"))
                // The child has its own copies once it runs.
                defer {
                    try? out.close()
                    try? err.close()
                }
                process.executableURL = URL(fileURLWithPath: argv[0])
                process.arguments = Array(argv.dropFirst())
                if let environment { process.environment = environment }
                if let directory { process.currentDirectoryURL = directory }
                process.standardOutput = out
                process.standardError = err
                process.standardInput = FileHandle.nullDevice
                try process.run()
            } catch {
                removeFiles()
                throw error
            }
        }

        func killIfPast(_ deadline: ContinuousClock.Instant, command: [String], timeout: Duration) throws {
            guard ContinuousClock.now > deadline else { return }
            kill(process.processIdentifier, SIGKILL)
            throw TestSetupError("\(command.joined(separator: " ")) did not finish within \(timeout)")
        }

        /// The exit code and the output files' text; call after the exit.
        func output() -> Output {
            func text(_ name: String) -> String {
                String(decoding: (try? Data(contentsOf: files.appendingPathComponent(name))) ?? Data(), as: UTF8.self)
            }
            return Output(exitCode: process.terminationStatus, stdout: text("stdout"), stderr: text("stderr"))
        }

        func removeFiles() {
            try? FileManager.default.removeItem(at: files)
        }
    }
}
