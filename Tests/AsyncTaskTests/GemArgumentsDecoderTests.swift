import AsyncTask
import Foundation
import TestSupport
import Testing

/// The gem's YAML (as Ruby 3.1's Psych writes it, copied from `ruby -ryaml -e 'puts YAML.dump(args.to_yaml)'`)
/// into the JSON a target receives, by the rules documented on `GemArgumentsDecoder`.
@Suite("The async_task gem's YAML arguments")
struct GemArgumentsDecoderTests {
    let decoder = GemArgumentsDecoder()

    /// The column's text for an inner document (the gem's double layer: a YAML block string).
    func stored(_ inner: String) -> String {
        "--- |\n" + inner.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  \($0)" }.joined(separator: "\n")
    }

    func object(_ json: String) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? NSDictionary)
    }

    /// clients/ruby/test: psych_cases.rb prints what Debian's Ruby (3.1, Psych 4) writes and reads.
    static let rubyDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("clients/ruby/test")

    static func ruby(_ arguments: [String]) async throws -> String {
        let output = try await ChildProcess.run(["/usr/bin/ruby", "psych_cases.rb"] + arguments, directory: rubyDirectory)
        try #require(output.exitCode == 0, "\(output.stderr)")
        return output.stdout
    }

    @Test(
        "arguments real Ruby stored the gem's way decode to exactly the JSON Ruby writes for them: strings Psych leaves unquoted (1e3, 12E5, 1.5e3, 6e07, 0o17, 1__0) stay strings, floats are written as Ruby writes them"
    )
    func rubyRoundTrip() async throws {
        let cases = try await Self.ruby(["arguments"]).split(separator: "\n").map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        }
        #expect(cases.count == 4)
        for item in cases {
            let stored = try #require(item["stored"])
            #expect(try decoder.json(fromStored: stored) == item["json"], "case \(item["name"] ?? "")")
        }
    }

    /// What `PsychScalar` makes of `text`, in psych_cases.rb's terms.
    func kind(_ text: String) -> [String] {
        do {
            switch try PsychScalar.tokenize(text) {
            case .null: return ["null", ""]
            case .bool(let value): return ["bool", "\(value)"]
            case .integer(let digits): return ["integer", digits]
            case .float(let value): return ["float", PsychScalar.rubyText(value)]
            case .symbol(let name): return ["symbol", name]
            case .time: return ["time", ""]
            case .date: return ["date", ""]
            case .string(let string): return ["string", string]
            }
        } catch {
            return ["error", ""]
        }
    }

    @Test(
        "plain scalars are typed as Ruby's Psych types them (ScalarScanner#tokenize, asked directly): a list of edge cases, and every text of one to three characters from digits, signs, separators and letters"
    )
    func scalarTypesMatchPsych() async throws {
        var texts = [
            "1e3", "12E5", "1.5e3", "1.5e+3", "6e07", "0o17", "1__0", "1_0", "1,000", "08", "017", "0x1F", "0x_1F", "0b101", "-0b101", ".5",
            "+.5", "1.", "100.", "00.5", "0.1e-5", "1.0e+400", "1.0e-400", ".e+5", "0b_", "0x_", "1:30", "1:30.5", "-1:30", "1:2:3:4", "10:00:00",
            "190:20:30", "1_0:30", "1__0:30", "+5:30.5_5", "tRuE", "yes", "No", "oFF", "y", "n", "~", "NuLl", "null", "", "Infinity", "+inf", "-.inf",
            ".NaN", ".Inf", ":sym", ":\"a\"b", ":'x y'", "::a", ":a:b", "-0", "+12", "0_7", "0,1", "1_", "1,", "_1", "e5", "1.2.3",
            "2026-02-30", "1582-10-10", "1582-10-04", "1500-02-29", "1900-02-29", "2024-02-29", "0000-02-29", "2026-1-5", "2026-00-05",
            "2026-12-00", "2026-13-01 10:00:00", "2026-12-02 24:00:00", "2026-12-02 24:00:01", "2026-12-02 23:60:00", "2026-12-02 23:59:60",
            "2026-12-02 10:00:00 +25:00", "2026-12-02 10:00:00 +23:59", "2026-12-02 10:00:00 +24:00", "2026-12-02 10:00:00 -23:99",
            "2026-12-02 10:00:00 +5", "2026-12-02 10:00:00+0530", "2026-12-02 10:00:00 +530", "2026-12-02T10:00:00.123456789123Z",
            "2026-12-2 1:00:00", "2026-12-02 10:00:00   Z", "-0001-01-01 00:00:00", "2026-12-02 10:00:00.", "2026-12-02t10:00:00",
            "2026-12-02\t10:00:00", "2026-12-31 10:00:00 -00:30", "2026-12-01 10:00:00.5 +01:00", "é1", "ʰx", "1é", "a\nb", "n\non",
            "y\n\non", "no\n", "c_1", "order-7", "<<", "=", "!x", "@a", "%", "&a", "*a", "|", "1 2", " 1", "1 ",
        ]
        let alphabet = ["0", "1", "7", "8", "9", ".", ",", "_", ":", "-", "+", "e", "E", "x", "b", "o", "n", "~", " "]
        var layer = [""]
        for _ in 1...3 {
            layer = layer.flatMap { prefix in alphabet.map { prefix + $0 } }
            texts += layer
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("psych-scalars-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: texts).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let ruby = try #require(JSONSerialization.jsonObject(with: Data(try await Self.ruby(["scalars", file.path]).utf8)) as? [[String]])
        #expect(ruby.count == texts.count)
        let differences = zip(texts, ruby).filter { kind($0.0) != $0.1 }.map { "\($0.0.debugDescription): Ruby \($0.1), ours \(kind($0.0))" }
        #expect(differences.isEmpty, "\(differences.count) of \(texts.count) differ, e.g. \(differences.prefix(15).joined(separator: "; "))")
    }

    @Test("floats are written as Ruby's Float#to_s writes them (which is Ruby's JSON for them)")
    func rubyFloatText() {
        let cases: [(Double, String)] = [
            (1.5, "1.5"), (100, "100.0"), (1e14, "100000000000000.0"), (1e15, "1.0e+15"), (1.5e15, "1.5e+15"),
            (1234567890123456.8, "1234567890123456.8"),
            (1_234_567_890_123_456, "1.234567890123456e+15"), (1e20, "1.0e+20"), (0.1, "0.1"), (0.0001, "0.0001"), (0.0001234, "0.0001234"),
            (1e-5, "1.0e-05"), (1.234e-5, "1.234e-05"), (-0.0, "-0.0"), (0, "0.0"), (Double.leastNonzeroMagnitude, "5.0e-324"), (-2.5, "-2.5"),
            (1e300, "1.0e+300"),
        ]
        for (value, text) in cases { #expect(PsychScalar.rubyText(value) == text, "\(value)") }
    }

    @Test("symbol keys and values become strings; dates and times ISO 8601; numbers of any size, nil, booleans, nesting and key order kept")
    func convertsPsychOutput() throws {
        let inner = """
            ---
            :customer_token: c_1
            :order_number: 7
            :at: 2026-12-02 01:15:56.500000000 Z
            :local: 2026-12-02 02:15:56.000000000 +01:00
            :d: 2026-12-02
            :s: :pending
            :f: 1.5
            :big: 1180591620717411303424
            :nilv:
            :t: true
            :list:
            - 1
            - two
            - :three
            :nested:
              :a:
                b: 1
            :odd key: x
            str: ":notsym"
            :yes: 'yes'
            1: one

            """
        let json = try decoder.json(fromStored: stored(inner))
        #expect(
            json
                == #"{"customer_token":"c_1","order_number":7,"at":"2026-12-02T01:15:56.500000000Z","local":"2026-12-02T02:15:56.000000000+01:00","d":"2026-12-02","s":"pending","f":1.5,"big":1180591620717411303424,"nilv":null,"t":true,"list":[1,"two","three"],"nested":{"a":{"b":1}},"odd key":"x","str":":notsym","yes":"yes","1":"one"}"#
        )
        #expect(try object(json)["order_number"] as? Int == 7)
    }

    @Test("no arguments: NULL-like documents and the YAML of nil are {}; a single-layer hash and HashWithIndifferentAccess are read too")
    func emptyAndSingleLayer() throws {
        #expect(try decoder.json(fromStored: "") == "{}")
        #expect(try decoder.json(fromStored: "--- \"---\\n\"\n") == "{}")
        #expect(try decoder.json(fromStored: "--- \n...\n") == "{}")
        #expect(try decoder.json(fromStored: "---\n:a: 1\n") == #"{"a":1}"#)
        #expect(
            try decoder.json(fromStored: stored("--- !ruby/hash:ActiveSupport::HashWithIndifferentAccess\norder_number: 7\n"))
                == #"{"order_number":7}"#)
        #expect(try decoder.json(fromStored: stored("---\n:s: &1 x\n:t: *1\n")) == #"{"s":"x","t":"x"}"#)
        #expect(try decoder.json(fromStored: stored("---\n:q: \"tab\\tquote\\\" nl\\n\"\n")) == #"{"q":"tab\tquote\" nl\n"}"#)
    }

    @Test(
        "what JSON cannot hold is rejected with the place and the reason, never the value",
        arguments: [
            ("---\n:amount: !ruby/object:BigDecimal 18:0.125e2\n", "amount", "!ruby/object:BigDecimal"),
            ("---\n:tags: !ruby/object:Set\n  hash:\n    1: true\n", "tags", "!ruby/object:Set"),
            ("---\n:blob: !binary |-\n  /w==\n", "blob", "binary string"),
            ("---\n:ratio: .inf\n", "ratio", "infinite or NaN"),
            ("---\n:items:\n- :ok\n- !ruby/object:Money\n  cents: 5\n", "items[1]", "!ruby/object:Money"),
            ("---\n:a: 1\na: 2\n", "a", "appears twice"),
            ("---\n- 1\n- 2\n", "", "not a hash"),
        ])
    func rejects(inner: String, path: String, reason: String) throws {
        let error = try #require(throws: GemArgumentsError.self) { try decoder.json(fromStored: stored(inner)) }
        #expect(error.path == path)
        #expect(error.reason.contains(reason), "\(error.reason)")
        #expect(!error.description.contains("0.125e2") && !error.description.contains("/w=="))
    }

    @Test("a document that is not YAML, or not the gem's string of a hash, is rejected naming the problem")
    func rejectsNonGemDocuments() throws {
        let broken = try #require(throws: GemArgumentsError.self) { try decoder.json(fromStored: "--- |\n  ---\n  :a: [1, 2\n") }
        #expect(broken.description.contains("not valid YAML") && broken.description.contains("line"))
        let number = try #require(throws: GemArgumentsError.self) { try decoder.json(fromStored: "--- 42\n") }
        #expect(number.description.contains("not the gem's YAML string of a hash"))
    }
}
