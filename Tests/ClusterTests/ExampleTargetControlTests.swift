import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Example target: POST /_control faults", .serialized)
struct ExampleTargetControlTests {
    private func post(_ url: String, _ body: String, attempt: Int? = nil) async throws -> (status: Int, body: String, seconds: Double) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.timeoutInterval = 30
        if let attempt {
            request.setValue(String(attempt), forHTTPHeaderField: "AsyncTask-Attempt-Id")
            request.setValue("1", forHTTPHeaderField: "AsyncTask-Attempt-Number")
        }
        let start = ContinuousClock.now
        let (data, response) = try await URLSession.shared.data(for: request)
        let elapsed = ContinuousClock.now - start
        return (
            (response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self),
            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        )
    }

    @Test("bad control bodies get a 400 naming the problem; unavailable answers 503, hang holds calls, none restores; the record says which")
    func control() async throws {
        try await Cluster.with(targetArguments: ["--control"]) { cluster in
            let control = cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/_control")
            let call = cluster.targetURL + "/fulfill"
            for (body, named) in [
                ("not json", "JSON object"), (#"{"fault":"sometimes","seconds":1}"#, "'fault'"), (#"{"seconds":1}"#, "'fault' is required"),
                (#"{"fault":"hang","seconds":5,"hang_ms":0}"#, "'hang_ms'"), (#"{"fault":"unavailable"}"#, "'seconds'"),
                (#"{"fault":"unavailable","seconds":2,"extra":1}"#, "unknown field 'extra'"),
            ] {
                let answer = try await post(control, body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.body.contains(named), "\(body) → \(answer.body)")
            }
            #expect(try await post(call, "{}", attempt: 1).status == 200, "a bad control body changed nothing")

            #expect(try await post(control, #"{"fault":"unavailable","seconds":30}"#).status == 200)
            #expect(try await post(call, "{}", attempt: 2).status == 503)
            #expect(try await post(control, #"{"fault":"hang","seconds":30,"hang_ms":1500}"#).status == 200)
            let held = try await post(call, "{}", attempt: 3)
            #expect(held.status == 503)
            #expect(held.seconds >= 1.4, "held \(held.seconds) s")
            #expect(try await post(control, #"{"fault":"none"}"#).status == 200)
            #expect(try await post(call, "{}", attempt: 4).status == 200)
            // A fault ends by itself.
            #expect(try await post(control, #"{"fault":"unavailable","seconds":0.5}"#).status == 200)
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await post(call, "{}", attempt: 5).status == 200)

            let lines = ChaosChecker.jsonLines(cluster.recordFile)
            let byAttempt = Dictionary(
                lines.compactMap { line in (line["attempt_id"] as? NSNumber).map { ($0.intValue, line) } }, uniquingKeysWith: { a, _ in a })
            #expect((byAttempt[2]?["status"] as? NSNumber)?.intValue == 503)
            #expect(byAttempt[2]?["fault"] as? String == "unavailable")
            #expect(byAttempt[3]?["fault"] as? String == "hang")
            #expect((byAttempt[4]?["status"] as? NSNumber)?.intValue == 200)
            #expect(byAttempt[4]?["fault"] == nil)
        }
        // Without --control there is no control endpoint.
        try await Cluster.with { cluster in
            let answer = try await post(
                cluster.targetURL.replacingOccurrences(of: "/rpc", with: "/_control"), #"{"fault":"unavailable","seconds":5}"#)
            #expect(answer.status == 404)
        }
    }

    @Test("the call record is one JSON line per call: awkward strings, numbers, booleans and nested arguments read back as sent")
    func recordLines() async throws {
        try await Cluster.with(targetArguments: ["--record-arguments"]) { cluster in
            let args: [String: Any] = [
                "order_number": 9_007_199_254_740_993, "price": 12.5, "gift": true, "wrapped": false, "note": NSNull(),
                "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 漢字 🚀", "items": [1, "two", ["three": 3.25]],
            ]
            let body = try JSONSerialization.data(withJSONObject: args)
            let before = Date().timeIntervalSince1970
            var request = URLRequest(url: URL(string: cluster.targetURL + "/fulfill")!)
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("77", forHTTPHeaderField: "AsyncTask-Attempt-Id")
            request.setValue("1", forHTTPHeaderField: "AsyncTask-Attempt-Number")
            let key = #"key "quoted" \ slash / end"#
            request.setValue(key, forHTTPHeaderField: "Idempotency-Key")
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let after = Date().timeIntervalSince1970
            let raw = try String(contentsOf: cluster.recordFile, encoding: .utf8)
            let lines = raw.split(separator: "\n")
            try #require(lines.count == 1, "\(raw)")
            let line = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect((line["attempt_id"] as? NSNumber)?.intValue == 77)
            #expect((line["attempt_number"] as? NSNumber)?.intValue == 1)
            #expect(line["method"] as? String == "fulfill")
            #expect(line["idempotency_key"] as? String == key)
            #expect((line["order_number"] as? NSNumber)?.int64Value == 9_007_199_254_740_993)
            let at = try #require((line["at"] as? NSNumber)?.doubleValue)
            #expect(at >= before - 0.001 && at <= after + 0.001, "at \(at) outside [\(before), \(after)]")
            // The arguments as the target parsed them, compared as JSON values.
            let recorded = try #require(line["args"] as? [String: Any])
            let canonical = { (object: [String: Any]) in try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) }
            #expect(try canonical(recorded) == canonical(args), "\(recorded)")
            #expect(recorded["text"] as? String == args["text"] as? String)
            #expect(String(lines[0]).hasPrefix(#"{"args":{"#), "keys are written in order: \(lines[0])")
        }
    }
}
