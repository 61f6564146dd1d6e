import Crypto
import Foundation

/// The `AsyncTask-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one `v1=`
/// per configured secret (DESIGN §5).
public enum WebhookSignature {
    /// The header value for `body` signed at `timestamp` with every secret.
    public static func header(body: [UInt8], timestamp: Int64, secrets: [String]) -> String {
        var parts = ["t=\(timestamp)"]
        for secret in secrets {
            parts.append("v1=" + hex(body: body, timestamp: timestamp, secret: secret))
        }
        return parts.joined(separator: ",")
    }

    /// The hex signature of one secret.
    public static func hex(body: [UInt8], timestamp: Int64, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a header the way a receiver should: any `v1=` matching one of `secrets`, and a timestamp within
    /// `tolerance` seconds of `now`.
    public static func verify(header: String, body: [UInt8], secrets: [String], now: Int64, tolerance: Int64 = 300) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) }
            if pair[0] == "v1" { signatures.append(String(pair[1])) }
        }
        guard let timestamp, abs(now - timestamp) <= tolerance else { return false }
        let expected = Set(secrets.map { hex(body: body, timestamp: timestamp, secret: $0) })
        return signatures.contains { expected.contains($0) }
    }
}
