import AsyncTaskCore
public import CurlHTTP
import Foundation

/// Builds the one HTTP request of a batch of ``TargetCall``s of one method to a target with ``BatchSettings``
/// (README "Batched delivery"):
///
/// - `http`: `POST {url}/{method}` with `{"attempts":[{"id":…,"attempt_number":…,"idempotency_key":…,"args":{…}}]}`
///   (and `"traceparent"` when the call has one);
/// - `jsonrpc`: `POST {url}` with a JSON-RPC 2.0 batch, an array of requests whose `id`s are the attempt ids, each
///   with an extension member `"asynctask":{"attempt_number":…,"idempotency_key":…}`.
///
/// Each call passes the same checks as an unbatched one (``TargetRequestBuilder``); a call that fails them is
/// left out of the request and refused on its own, so one bad row never fails its neighbours.
public enum BatchRequestBuilder {
    /// The request and how the calls were split.
    public struct Batch: Sendable {
        /// The request, or `nil` when no call could be sent.
        public var request: HTTPRequest?
        /// The calls in the request, in body order.
        public var sent: [TargetCall]
        /// The calls left out, each with why (a permanent failure of its attempt).
        public var refused: [(call: TargetCall, error: TargetRequestBuilder.Error)]
    }

    /// The request for `calls`, which must share one method name.
    public static func makeRequest(for calls: [TargetCall], to target: TargetConfiguration) -> Batch {
        var sent: [TargetCall] = []
        var refused: [(call: TargetCall, error: TargetRequestBuilder.Error)] = []
        guard let methodName = calls.first?.methodName else { return Batch(request: nil, sent: [], refused: []) }
        do {
            try TargetRequestBuilder.checkMethodName(methodName)
        } catch {
            return Batch(request: nil, sent: [], refused: calls.map { ($0, error) })
        }
        var body: [UInt8] = []
        body.reserveCapacity(calls.reduce(64) { $0 + $1.arguments.count + 160 })
        body += Array((target.protocol == .http ? #"{"attempts":["# : "[").utf8)
        for call in calls {
            do throws(TargetRequestBuilder.Error) {
                guard call.methodName == methodName else {
                    throw TargetRequestBuilder.Error(
                        kind: .invalidRequest, message: "a batch holds one method; '\(call.methodName.prefix(64))' is not '\(methodName)'")
                }
                let (key, arguments, parsed) = try TargetRequestBuilder.checkedParts(of: call)
                if !sent.isEmpty { body.append(UInt8(ascii: ",")) }
                switch target.protocol {
                case .http:
                    body += Array(#"{"id":\#(call.attemptID),"attempt_number":\#(call.attemptNumber),"idempotency_key":"#.utf8)
                    appendJSONString(key, to: &body)
                    if let traceparent = call.traceparent {
                        body += Array(#","traceparent":"#.utf8)
                        appendJSONString(traceparent, to: &body)
                    }
                    body += Array(#","args":"#.utf8) + arguments + [UInt8(ascii: "}")]
                case .jsonrpc:
                    try TargetRequestBuilder.checkJSONRPCParams(parsed)
                    // The method name is plain ASCII without quotes or backslashes (checked above).
                    body += Array(#"{"jsonrpc":"2.0","method":""#.utf8) + Array(methodName.utf8) + Array(#"","params":"#.utf8) + arguments
                    body += Array(#","id":\#(call.attemptID),"asynctask":{"attempt_number":\#(call.attemptNumber),"idempotency_key":"#.utf8)
                    appendJSONString(key, to: &body)
                    if let traceparent = call.traceparent {
                        body += Array(#","traceparent":"#.utf8)
                        appendJSONString(traceparent, to: &body)
                    }
                    body += Array("}}".utf8)
                }
                sent.append(call)
            } catch {
                refused.append((call, error))
            }
        }
        guard !sent.isEmpty else { return Batch(request: nil, sent: [], refused: refused) }
        body += Array((target.protocol == .http ? "]}" : "]").utf8)

        var headers: HTTPHeaders = [
            "Content-Type": "application/json",
            "AsyncTask-Batch-Size": String(sent.count),
        ]
        for field in target.headers { headers.add(name: field.name, value: field.value) }
        let request = HTTPRequest(
            method: .post,
            url: target.protocol == .http ? TargetRequestBuilder.methodURL(of: target, methodName) : target.url,
            headers: headers,
            body: body,
            connectTimeout: target.connectTimeout,
            timeout: target.timeout,
            tls: target.tls,
            maxResponseBytes: target.maxResponseBytes,
            lane: target.name
        )
        return Batch(request: request, sent: sent, refused: refused)
    }

    /// Appends `text` as a JSON string. The checked keys and traceparents hold no control characters, so only
    /// `"` and `\` need escaping; anything else is escaped as well, to stay valid whatever reaches here.
    static func appendJSONString(_ text: String, to body: inout [UInt8]) {
        body.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                body += [UInt8(ascii: "\\"), byte]
            case 0..<0x20:
                body += Array(String(format: "\\u%04x", byte).utf8)
            default:
                body.append(byte)
            }
        }
        body.append(UInt8(ascii: "\""))
    }
}
