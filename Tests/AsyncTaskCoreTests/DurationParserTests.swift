import AsyncTaskCore
import Testing

struct DurationParserTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
        ("7d", .seconds(604_800)), ("3", .seconds(3)), ("1.5s", .milliseconds(1500)), (" 10s ", .seconds(10)), ("-1s", .seconds(-1)), ("0", .zero),
    ])
    func parses(_ text: String, _ expected: Duration) throws {
        #expect(try DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "5w", "1.2.3s", "ten", "5 minutes", "1e400"])
    func rejectsWithAClearError(_ text: String) {
        #expect {
            try DurationParser.parse(text)
        } throws: { error in
            let error = error as? DurationParser.Error
            return error?.input == text && error?.description.contains("250ms") == true
        }
    }

    @Test func namesWhatIsWrong() {
        #expect(throws: DurationParser.Error(input: "  ", reason: "empty")) { try DurationParser.parse("  ") }
        #expect(throws: DurationParser.Error(input: "5w", reason: "unknown unit 'w'")) { try DurationParser.parse("5w") }
        #expect(throws: DurationParser.Error(input: "x5s", reason: "'' is not a number")) { try DurationParser.parse("x5s") }
        #expect(throws: DurationParser.Error(input: "200000000000d", reason: "too large")) { try DurationParser.parse("200000000000d") }
        #expect(
            DurationParser.Error(input: "5w", reason: "unknown unit 'w'").description
                == "'5w' is not a duration (unknown unit 'w'); write e.g. 250ms, 2s, 5m, 1h, 7d or a number of seconds")
    }

    /// Spaces and tabs around the number and the unit are ignored, Unicode spaces included (what Foundation's
    /// `.whitespaces` trimmed before the parser lost its Foundation import); line breaks are not spaces.
    @Test func trimsSpacesAndTabsOnly() throws {
        #expect(try DurationParser.parse("\t2 s\t") == .seconds(2))
        #expect(try DurationParser.parse("\u{00A0}3ms\u{3000}") == .milliseconds(3))
        #expect(try DurationParser.parse("5 M") == .seconds(300))
        #expect(throws: DurationParser.Error.self) { try DurationParser.parse("5s\n") }
    }

    @Test(arguments: [
        (Duration.zero, "0s"), (.milliseconds(5), "5ms"), (.milliseconds(1500), "1500ms"), (.seconds(2), "2s"), (.seconds(90), "90s"),
        (.seconds(120), "2m"), (.seconds(3600), "1h"), (.seconds(86_400 * 7), "7d"), (.seconds(86_400 * 30), "30d"), (.seconds(-1), "-1s"),
        (.microseconds(1), "0.000001s"), (.nanoseconds(1_000_500_000), "1.0005s"), (.nanoseconds(-1), "-0.000000001s"),
    ])
    func formatsInTheLargestWholeUnit(_ duration: Duration, _ text: String) throws {
        #expect(DurationParser.format(duration) == text)
        #expect(try DurationParser.parse(text) == duration)
    }

    /// Every duration of whole nanoseconds up to ten days comes back from its text unchanged (the parser reads
    /// through a `Double`, exact to the nanosecond well past that), and so do whole days far beyond.
    @Test func formatThenParseIsTheIdentity() throws {
        var generator = SplitMix64(seed: 13)
        for _ in 0..<2000 {
            let scale = [Int64(1), 1000, 1_000_000, 1_000_000_000, 60_000_000_000][Int(generator.next() % 5)]
            let nanoseconds = Int64(generator.next() % UInt64(864_000_000_000_000 / scale)) * scale
            let duration = Duration.nanoseconds(generator.next() % 2 == 0 ? nanoseconds : -nanoseconds)
            #expect(try DurationParser.parse(DurationParser.format(duration)) == duration, "\(duration)")
        }
        for days in [365, 3650, 36_500] {
            #expect(try DurationParser.parse(DurationParser.format(.seconds(86_400 * days))) == .seconds(86_400 * days))
        }
    }
}

/// A small seeded generator, so the property test's inputs are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
