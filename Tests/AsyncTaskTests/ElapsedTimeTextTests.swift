import AsyncTask
import Testing

@Suite("Elapsed time as operators read it")
struct ElapsedTimeTextTests {
    @Test(
        "one decimal under 10 s, then seconds, minutes and seconds, hours and minutes",
        arguments: [
            (0.04, "0.0s"), (4.25, "4.2s"), (9.94, "9.9s"), (10.4, "10s"), (59.4, "59s"), (190, "3m 10s"), (3599, "59m 59s"), (7500, "2h 5m"),
        ])
    func describes(seconds: Double, text: String) {
        #expect(ElapsedTimeText.describe(seconds) == text)
    }
}
