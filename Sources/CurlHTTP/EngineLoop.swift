import AsyncTaskCore
import CCurl
import CCurlShims
import Logging

/// The engine thread's side: the multi handle, the transfers in flight and the idle easy
/// handles. Created, used and destroyed on the engine thread only.
final class EngineLoop {
    /// The engine thread's OS name (`top -H`, `ps -L`, perf, debuggers).
    static let threadName = "asynctask-http"

    private let core: EngineCore
    private let multi: CurlMultiHandle
    private var active: [UInt64: Transfer] = [:]
    /// Requests waiting for a transfer slot while `active` holds `maxActive`.
    private var waiting = TransferQueue<EngineCore.Submission>()
    /// ``HTTPEngine/Configuration/maxActiveTransfers``, `Int.max` for none.
    private let maxActive: Int
    private var idleHandles: [CurlEasyHandle] = []
    private var counters = EngineCore.CounterDelta()
    /// Finished requests whose callers are resumed after the counters are published, so that a
    /// caller who reads ``HTTPEngine/statistics`` after its response sees its own transfer counted.
    private var completed: [(ResponseContinuation, Result<CompletedResponse, HTTPClientError>)] = []

    /// - Returns: `nil` when libcurl cannot be initialised or cannot allocate a multi handle.
    init?(core: EngineCore) {
        guard CurlGlobal.isInitialized, let multi = CurlMultiHandle() else { return nil }
        self.core = core
        self.multi = multi
        let configuration = core.configuration
        maxActive = configuration.maxActiveTransfers > 0 ? configuration.maxActiveTransfers : Int.max
        multi.set(CURLMOPT_MAX_HOST_CONNECTIONS, max(0, configuration.maxConnectionsPerHost))
        multi.set(CURLMOPT_MAXCONNECTS, max(1, configuration.connectionCacheSize))
        multi.set(CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    }

    /// Runs until a stop request is done with; then fails whatever is left.
    func run() {
        // Otherwise it shows under the name of whichever pool thread started it.
        _ = ccurl_name_current_thread(EngineLoop.threadName)
        core.attachThread(multi: multi.handle)
        core.logger.debug("HTTP engine thread started")
        loop()
        for transfer in active.values {
            end(transfer, .failure(HTTPClientError(code: .shutdown, detail: "the HTTP engine shut down before the response arrived")))
        }
        active = [:]
        for submission in waiting.removeAll() {
            fail(submission, HTTPClientError(code: .shutdown, detail: "the HTTP engine shut down before the request started"))
        }
        let late = core.detachThread(publishing: &counters)
        resumeCompleted()
        for submission in late {
            submission.continuation.resume(returning: .failure(HTTPClientError(code: .shutdown, detail: "the HTTP engine shut down")))
        }
        core.logger.debug("HTTP engine thread stopped")
    }

    private func loop() {
        while true {
            let work = core.takeWork()
            for submission in work.submissions {
                if active.count < maxActive && waiting.isEmpty {
                    start(submission)
                } else {
                    waiting.append(submission, lane: submission.prepared.request.lane, deadline: submission.deadline)
                }
            }
            for id in work.cancellations { cancel(id) }
            if work.stop == .immediate { return }

            var running: Int32 = 0
            curl_multi_perform(multi.handle, &running)
            collectFinished()
            if !waiting.isEmpty { startWaiting() }
            counters.queued = waiting.count
            if !completed.isEmpty {
                core.publish(&counters)
                resumeCompleted()
            }

            var timeoutMs: Int32 = 1000
            if let earliest = waiting.earliestDeadline {
                timeoutMs = Self.pollTimeout(until: earliest, atMost: timeoutMs)
            }
            if case .drain(let deadline) = work.stop {
                if active.isEmpty && waiting.isEmpty { return }
                if ContinuousClock.now >= deadline { return }
                timeoutMs = Self.pollTimeout(until: deadline, atMost: timeoutMs)
            }
            if core.preparePoll(publishing: &counters) {
                curl_multi_poll(multi.handle, nil, 0, timeoutMs, nil)
            }
        }
    }

    /// Milliseconds for `curl_multi_poll` to wake at `instant`: one past the whole milliseconds left, so the
    /// poll never wakes just before it, at least 0 and at most `limit`.
    private static func pollTimeout(until instant: ContinuousClock.Instant, atMost limit: Int32) -> Int32 {
        let left = ContinuousClock.now.duration(to: instant)
        if left <= .zero { return 0 }
        return Int32(min(Int64(limit) - 1, left.milliseconds) + 1)
    }

    /// Fails the requests whose timeout passed while they waited, then starts waiting ones while slots are free.
    private func startWaiting() {
        let now = ContinuousClock.now
        for entry in waiting.removeExpired(now: now) {
            fail(
                entry.element,
                HTTPClientError(
                    code: .timeout,
                    detail: "no transfer slot within the timeout: \(active.count) transfers held all \(maxActive) slots"))
        }
        while active.count < maxActive, let entry = waiting.popNext() {
            start(entry.element)
        }
    }

    /// Resumes the caller of a request that never reached libcurl with `error`.
    private func fail(_ submission: EngineCore.Submission, _ error: HTTPClientError) {
        counters.failures += 1
        completed.append((submission.continuation, .failure(error)))
    }

    private func start(_ submission: EngineCore.Submission) {
        let left = ContinuousClock.now.duration(to: submission.deadline)
        guard left > .zero else {
            fail(submission, HTTPClientError(code: .timeout, detail: "the timeout passed before the request started"))
            return
        }
        guard let easy = idleHandles.popLast() ?? CurlEasyHandle() else {
            fail(submission, HTTPClientError(code: .other, detail: "libcurl could not allocate an easy handle"))
            return
        }
        let transfer = Transfer(
            id: submission.id,
            easy: easy,
            continuation: submission.continuation,
            maxResponseBytes: submission.prepared.request.maxResponseBytes
        )
        do {
            try transfer.configure(submission.prepared, timeout: left, engine: core.configuration)
        } catch {
            finish(transfer, .failure(error))
            return
        }
        let code = curl_multi_add_handle(multi.handle, easy.handle)
        guard code == CURLM_OK else {
            let text = String(cString: curl_multi_strerror(code))
            finish(transfer, .failure(HTTPClientError(code: .other, curlCode: Int(code.rawValue), detail: "curl_multi_add_handle: \(text)")))
            return
        }
        active[submission.id] = transfer
    }

    private func cancel(_ id: UInt64) {
        if let transfer = active.removeValue(forKey: id) {
            end(transfer, .failure(HTTPClientError(code: .cancelled, detail: "the task was cancelled")))
        } else if let submission = waiting.remove(where: { $0.id == id }) {
            fail(submission, HTTPClientError(code: .cancelled, detail: "the task was cancelled"))
        }
    }

    /// Reads libcurl's "done" messages and resumes their callers.
    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi.handle, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            // Read before curl_multi_remove_handle, which invalidates the message.
            let code = ccurl_msg_result(message)
            var context: UnsafeMutableRawPointer?
            guard ccurl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else { continue }
            let id = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().id
            guard let transfer = active.removeValue(forKey: id) else { continue }
            end(transfer, result(of: transfer, code: code), keepOptions: code == CURLE_OK)
        }
    }

    private func result(of transfer: Transfer, code: CURLcode) -> Result<CompletedResponse, HTTPClientError> {
        let easy = transfer.easy
        counters.connectionsOpened += easy.info(CURLINFO_NUM_CONNECTS)
        if transfer.headerOverflow {
            return .failure(HTTPClientError(code: .protocolError, detail: "the response headers exceed \(Transfer.maxHeaderBytes) bytes"))
        }
        // A write error that the body cap caused is a response with a cut body, not a failure.
        guard code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.bodyTruncated) else {
            return .failure(HTTPClientError(curlCode: code, detail: transfer.errorText(code)))
        }
        let newConnections = easy.info(CURLINFO_NUM_CONNECTS)
        if newConnections == 0 { counters.connectionsReused += 1 }
        let version: String
        switch easy.info(CURLINFO_HTTP_VERSION) {
        case CURL_HTTP_VERSION_1_0: version = "1.0"
        case CURL_HTTP_VERSION_2_0: version = "2"
        case CURL_HTTP_VERSION_3: version = "3"
        default: version = "1.1"
        }
        return .success(
            CompletedResponse(
                status: easy.info(CURLINFO_RESPONSE_CODE),
                rawHeaders: transfer.rawHeaders,
                body: transfer.body,
                bodyTruncated: transfer.bodyTruncated,
                httpVersion: version,
                totalTime: .microseconds(easy.info(offset: CURLINFO_TOTAL_TIME_T)),
                newConnections: newConnections
            )
        )
    }

    private func resumeCompleted() {
        let ready = completed
        completed = []
        for (continuation, result) in ready {
            continuation.resume(returning: result)
        }
    }

    /// Detaches an active transfer from the multi handle, then finishes it.
    private func end(_ transfer: Transfer, _ result: Result<CompletedResponse, HTTPClientError>, keepOptions: Bool = false) {
        curl_multi_remove_handle(multi.handle, transfer.easy.handle)
        finish(transfer, result, keepOptions: keepOptions)
    }

    /// Resumes the caller and keeps the easy handle for reuse. The transfer must not be in the multi handle.
    /// - Parameter keepOptions: the transfer ended cleanly, so the handle may keep its options
    ///   for an equal request; otherwise it is reset.
    private func finish(_ transfer: Transfer, _ result: Result<CompletedResponse, HTTPClientError>, keepOptions: Bool = false) {
        switch result {
        case .success: counters.responses += 1
        case .failure: counters.failures += 1
        }
        // Either way libcurl holds no pointer into the transfer afterwards: a reset clears
        // every option; a kept handle has its per-transfer pointers cleared (the error buffer
        // and header list belong to the handle).
        if keepOptions {
            transfer.detachFromHandle()
        } else {
            transfer.easy.reset()
        }
        if let continuation = transfer.takeContinuation() {
            completed.append((continuation, result))
        }
        if idleHandles.count < core.configuration.maxIdleEasyHandles {
            idleHandles.append(transfer.easy)
        }
    }
}
