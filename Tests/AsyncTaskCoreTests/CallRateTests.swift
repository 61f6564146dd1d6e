import AsyncTaskCore
import Testing

@Suite("CallRate: 200/s, 30/m, 1000/h")
struct CallRateTests {
    @Test(
        "rates per second, minute and hour (or a bare number per second) read as calls per second and print back",
        arguments: [
            ("200/s", 200.0, "200/s"), ("30/m", 0.5, "30/m"), ("1000/h", 1000.0 / 3600, "1000/h"), ("2.5", 2.5, "150/m"), ("0.3/s", 0.3, "18/m"),
            (" 50 / min ", 50.0 / 60, "50/m"),
        ])
    func parses(text: String, perSecond: Double, printed: String) throws {
        let rate = try CallRate(parsing: text)
        #expect(abs(rate.perSecond - perSecond) < 1e-12)
        #expect(rate.description == printed)
    }

    @Test(
        "what is not a positive rate is an error naming the text and the reason",
        arguments: [
            ("fast", "'fast' is not a number"), ("0/s", "more than 0"), ("-5/s", "more than 0"), ("5/week", "unknown unit '/week'"), ("", "empty"),
            ("nan/s", "is not a number"), ("inf", "is not a number"),
        ])
    func rejects(text: String, reason: String) {
        #expect {
            try CallRate(parsing: text)
        } throws: { error in
            let description = (error as? CallRate.Error)?.description ?? ""
            return description.contains(reason) && description.contains("'\(text)' is not a rate")
        }
    }

    @Test("the default burst is one second's worth, at least one call")
    func oneSecondsWorth() throws {
        #expect(try CallRate(parsing: "200/s").oneSecondsWorth == 200)
        #expect(try CallRate(parsing: "30/m").oneSecondsWorth == 1)
        #expect(try CallRate(parsing: "2.5").oneSecondsWorth == 3)
    }
}
