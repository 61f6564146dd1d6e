public import Logging
public import ServiceLifecycle

/// An HTTP client over one libcurl *multi* handle, driven by one dedicated thread.
///
/// Any number of tasks call ``execute(_:)`` concurrently; each is resumed when its transfer
/// ends. Connections are kept alive and reused across requests (HTTP/1.1, and HTTP/2 through
/// ALPN), bounded by ``Configuration/maxConnectionsPerHost`` and ``Configuration/connectionCacheSize``.
///
/// The engine is a `Service`: ``run()`` starts its thread and returns after it stopped. Requests
/// made before `run()` wait for it. On graceful shutdown, in-flight requests finish or fail as
/// ``Configuration/shutdownBehavior`` says; cancelling `run()`'s task fails them at once.
/// Afterwards every request fails with ``HTTPClientError/Code/shutdown``.
public final class HTTPEngine: Service, Sendable {
    private let core: EngineCore

    /// Creates an engine; nothing starts until ``run()``.
    /// - Parameters:
    ///   - configuration: connection limits, proxy and shutdown behaviour.
    ///   - logger: receives the thread's start and stop at debug level.
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "CurlHTTP")) {
        self.core = EngineCore(configuration: configuration, logger: logger)
    }

    deinit {
        // A dropped engine must not leave its thread polling forever.
        core.requestStop(graceful: false)
    }

    /// Runs the engine thread until graceful shutdown or cancellation, then stops it.
    /// - Throws: ``HTTPClientError`` with code ``HTTPClientError/Code/other`` when `run()` is called
    ///   twice at once or the thread cannot start. Returns at once when the engine already stopped.
    public func run() async throws {
        switch core.beginRun() {
        case .idle:
            break
        case .running, .stopping:
            throw HTTPClientError(code: .other, detail: "HTTPEngine.run() was called while the engine runs")
        case .stopped:
            return
        }
        let core = self.core
        let started = EngineThread.spawn {
            if let loop = EngineLoop(core: core) {
                loop.run()
            } else {
                var nothing = EngineCore.CounterDelta()
                for submission in core.detachThread(publishing: &nothing) {
                    submission.continuation.resume(returning: .failure(HTTPClientError(code: .other, detail: "libcurl could not be initialised")))
                }
            }
            core.signalExit()
        }
        guard started else {
            core.requestStop(graceful: false)
            var nothing = EngineCore.CounterDelta()
            for submission in core.detachThread(publishing: &nothing) {
                submission.continuation.resume(returning: .failure(HTTPClientError(code: .other, detail: "the engine thread could not start")))
            }
            core.signalExit()
            throw HTTPClientError(code: .other, detail: "the engine thread could not start")
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await core.waitForExit()
            } onGracefulShutdown: {
                core.requestStop(graceful: true)
            }
        } onCancel: {
            core.requestStop(graceful: false)
        }
    }

    /// Sends `request` and waits for the complete response (any status) or a failure.
    ///
    /// Cancelling the calling task aborts the transfer and throws ``HTTPClientError/Code/cancelled``.
    /// - Throws: ``HTTPClientError`` when no response arrived: connect, DNS or TLS failure,
    ///   timeout, cancellation, shutdown, an invalid URL or request, or a broken connection.
    public func execute(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        let core = self.core
        // Checked and turned into header lines here, on the caller's thread, to keep the engine thread free.
        let prepared = try PreparedRequest(request, userAgent: core.configuration.userAgent)
        let id = core.makeID()
        // The timeout counts from here: a request that waits in the engine's queue spends its own time.
        let deadline = ContinuousClock.now + request.timeout
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: ResponseContinuation) in
                core.submit(EngineCore.Submission(id: id, prepared: prepared, deadline: deadline, continuation: continuation))
            }
        } onCancel: {
            core.cancel(id)
        }
        // The header block is parsed here, on the caller's thread, to keep the engine thread free.
        return try result.get().response()
    }

    /// The engine's counters: responses, failures, connections opened and reused, requests in
    /// flight and the CPU time of the engine thread.
    public var statistics: Statistics {
        core.statistics
    }
}
