import Foundation

/// The example target's answer to one batched request (`example-target --batch`, README "Batched delivery"):
/// an `http` batch (`{"attempts":[…]}` on `POST /rpc/{method}`) or a JSON-RPC 2.0 batch array (`POST /rpc`).
///
/// Each element is decided as an unbatched call would be (its `_status`, else `--fail-rate`, else 200) and
/// answered `ok`/`retry`/`fail` (a JSON-RPC `result`, or an error: -32000 retryable, -32602 permanent). Arguments
/// may also steer the reply, for tests: `"_retry_after"` (the element's delay), `"_omit": true` (no element),
/// `"_duplicate": true` (the element twice), `"_unknown_id": true` (an extra element for an id not asked),
/// `"_batch_status": 503` (the whole request answered with that status), `"_batch_reply": "object"` (a reply
/// that is not the documented shape), `"_delay_ms"` (the reply waits the longest of them).
struct ExampleBatchReply {
    /// The HTTP status of the reply.
    var status = 200
    /// The reply body.
    var body = Data()
    /// How long to wait before answering, in milliseconds.
    var delayMilliseconds = 0
    /// The elements received.
    var count = 0
    /// One record line per element received, when recording.
    var records: [[String: Any]] = []

    /// Whether the request is a JSON-RPC batch (else an `http` one).
    enum Kind { case http, jsonrpc }

    /// Decides the reply to `body`; `method` is the path's method (`http`), `failRate` and `delay` the target's;
    /// `recording`: fill `records`.
    init(body: Data, kind: Kind, method: String, failRate: Double, delay: Int, fault: Bool, recording: Bool) {
        delayMilliseconds = delay
        let parsed = try? JSONSerialization.jsonObject(with: body)
        let elements: [[String: Any]]? =
            kind == .http
            ? ((parsed as? [String: Any])?["attempts"] as? [Any])?.compactMap { $0 as? [String: Any] }
            : (parsed as? [Any])?.compactMap { $0 as? [String: Any] }
        guard let elements else {
            status = 400
            self.body = Data(#"{"error":"not a batch"}"#.utf8)
            return
        }
        count = elements.count
        // The reply is written as it is decided (one element after another), not built as dictionaries for
        // JSONSerialization: the target answers 100 attempts per request in `make bench-batch`.
        var results: [String] = []
        results.reserveCapacity(elements.count)
        var batchStatus: Int?
        var objectReply = false
        let now = Date().timeIntervalSince1970
        for element in elements {
            let id = (element["id"] as? NSNumber)?.int64Value ?? -1
            let args = (kind == .http ? element["args"] : element["params"]) as? [String: Any] ?? [:]
            let meta = kind == .http ? element : (element["asynctask"] as? [String: Any] ?? [:])
            let elementStatus: Int
            if fault {
                elementStatus = 503
            } else if let scripted = args["_status"] as? Int {
                elementStatus = scripted
            } else if failRate > 0, Double.random(in: 0..<1) < failRate {
                elementStatus = 503
            } else {
                elementStatus = 200
            }
            if let wanted = args["_batch_status"] as? Int { batchStatus = wanted }
            if args["_batch_reply"] as? String == "object" { objectReply = true }
            if let wait = args["_delay_ms"] as? Int { delayMilliseconds = max(delayMilliseconds, wait) }
            if recording {
                var line: [String: Any] = [
                    "attempt_id": id, "attempt_number": (meta["attempt_number"] as? NSNumber)?.intValue ?? -1,
                    "method": kind == .http ? method : (element["method"] as? String ?? ""),
                    "idempotency_key": meta["idempotency_key"] as? String ?? "", "at": now, "status": elementStatus,
                    "batch_size": elements.count,
                ]
                if let order = args["order_number"] { line["order_number"] = order }
                records.append(line)
            }
            if args["_omit"] as? Bool == true { continue }
            let retryable = elementStatus == 408 || elementStatus == 425 || elementStatus == 429 || elementStatus >= 500
            let retryAfter = args["_retry_after"]
            func result(id: Int64) -> String {
                var text: String
                switch kind {
                case .http:
                    text = #"{"id":\#(id),"status":"\#(elementStatus < 300 ? "ok" : retryable ? "retry" : "fail")""#
                    if elementStatus >= 300 { text += #","error":"status \#(elementStatus)""# }
                    if let retryAfter {
                        text += #","retry_after":"#
                        if !JSONTextWriter.append(retryAfter, to: &text) { text += "null" }
                    }
                    text += "}"
                case .jsonrpc:
                    text = #"{"jsonrpc":"2.0","id":\#(id),"#
                    if elementStatus < 300 {
                        text += #""result":{"ok":true}}"#
                    } else {
                        text += #""error":{"code":\#(retryable ? -32000 : -32602),"message":"status \#(elementStatus)""#
                        if let retryAfter {
                            text += #","data":{"retry_after":"#
                            if !JSONTextWriter.append(retryAfter, to: &text) { text += "null" }
                            text += "}"
                        }
                        text += "}}"
                    }
                }
                return text
            }
            results.append(result(id: id))
            if args["_duplicate"] as? Bool == true { results.append(result(id: id)) }
            if args["_unknown_id"] as? Bool == true { results.append(result(id: 999_999_999_999)) }
        }
        if let batchStatus {
            status = batchStatus
            self.body = Data(#"{"error":"scripted batch status"}"#.utf8)
        } else if fault {
            status = 503
            self.body = Data(#"{"error":"fault"}"#.utf8)
        } else if objectReply {
            self.body = Data(#"{"ok":true}"#.utf8)
        } else {
            let array = "[" + results.joined(separator: ",") + "]"
            self.body = Data((kind == .http ? #"{"results":\#(array)}"# : array).utf8)
        }
    }
}
