import Foundation
import Synchronization
import TestSupport

/// A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: commands on
/// the child's fd 3, replies on fd 4, each a JSON object ended by a NUL byte), so a test can load pages, read
/// the DOM, click and take screenshots without a WebSocket client or any driver download.
// @unchecked: Process, the write handle and `nextID`/`sessionID` are used by the test's one task only (send,
// close); the reader thread owns the read end and hands replies over through `Replies`' Mutex.
final class HeadlessChromium: @unchecked Sendable {
    /// Replies by command id, filled by the reader thread (events, which carry no id, are dropped).
    final class Replies: Sendable {
        let byID = Mutex<[Int: Data]>([:])
    }

    private let process: Process
    private let toBrowser: FileHandle
    private let replies = Replies()
    private let profile: URL
    private var nextID = 0
    private var sessionID: String?

    /// The browser executable: `$CHROMIUM`, else chromium from Debian's package.
    static var executable: String? {
        let candidates = [ProcessInfo.processInfo.environment["CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// True when the browser test can run: Chromium is installed, or CI is set (then a missing browser fails).
    static var shouldRun: Bool { executable != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Starts the browser with a 1280×1400 window and attaches to its first page.
    init() async throws {
        guard let executable = Self.executable else {
            throw TestSetupError("chromium is not installed: run scripts/ensure-deps.sh (it installs Debian's chromium package)")
        }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-chromium-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let input = Pipe()
        let output = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // fd 3 ← our stdin pipe, fd 4 → our stdout pipe; the browser's own stdin/stdout are detached.
        process.arguments = [
            "-c", #"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#, executable,
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--remote-debugging-pipe", "--user-data-dir=\(profile.path)", "--window-size=1280,1400", "about:blank",
        ]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        toBrowser = input.fileHandleForWriting
        let reader = output.fileHandleForReading
        let replies = self.replies
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { return }
                buffer.append(chunk)
                while let end = buffer.firstIndex(of: 0) {
                    let message = buffer[buffer.startIndex..<end]
                    buffer = Data(buffer[buffer.index(after: end)...])
                    if let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let id = object["id"] as? Int {
                        replies.byID.withLock { $0[id] = Data(message) }
                    }
                }
            }
        }
        let targets = try await send("Target.getTargets", session: false)
        guard let page = (targets["targetInfos"] as? [[String: Any]])?.first(where: { $0["type"] as? String == "page" }),
            let targetID = page["targetId"] as? String
        else { throw TestSetupError("chromium has no page target") }
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true], session: false)
        sessionID = attached["sessionId"] as? String
        _ = try await send("Page.enable")
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: profile)
    }

    /// Sends one command and waits for its reply's `result`.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: Bool = true, timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        nextID += 1
        let id = nextID
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if session, let sessionID { message["sessionId"] = sessionID }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(0)
        try toBrowser.write(contentsOf: data)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = replies.byID.withLock({ $0.removeValue(forKey: id) }) {
                let reply = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
                if let error = reply["error"] as? [String: Any] { throw TestSetupError("chromium \(method): \(error)") }
                return reply["result"] as? [String: Any] ?? [:]
            }
            if !process.isRunning { throw TestSetupError("chromium exited (status \(process.terminationStatus))") }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSetupError("chromium did not answer \(method) within \(timeout)")
    }

    /// Evaluates JavaScript in the page and returns its value (JSON-compatible).
    func evaluate(_ expression: String) async throws -> Any? {
        let result = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] { throw TestSetupError("page script failed: \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Loads `url` and waits until the document is complete.
    func navigate(_ url: String) async throws {
        try await send("Page.navigate", ["url": url])
        try await waitForPage { href in href == url }
    }

    /// Waits until the page at an address satisfying `matches` has finished loading.
    func waitForPage(timeout: Duration = .seconds(20), _ matches: @escaping (String) -> Bool) async throws {
        try await eventually("the page to load", timeout: timeout, every: .milliseconds(50)) {
            guard let state = try? await evaluate("document.readyState + ' ' + location.href") as? String else { return false }
            let parts = state.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0] == "complete" && matches(String(parts[1]))
        }
    }

    /// A full-page PNG.
    func screenshot(to file: URL) async throws {
        let result = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let base64 = result["data"] as? String, let png = Data(base64Encoded: base64) else {
            throw TestSetupError("chromium returned no screenshot")
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try png.write(to: file)
    }

    /// Stops the browser.
    func close() async {
        _ = try? await send("Browser.close", session: false, timeout: .seconds(5))
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
    }
}
