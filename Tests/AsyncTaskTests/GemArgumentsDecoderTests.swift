import AsyncTask
import Foundation
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
