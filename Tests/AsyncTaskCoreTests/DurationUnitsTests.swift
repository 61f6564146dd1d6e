import AsyncTaskCore
import Testing

struct DurationUnitsTests {
    @Test(arguments: [
        (Duration.zero, Int64(0), Int64(0)), (.milliseconds(250), 250, 250), (.microseconds(1900), 1, 2), (.microseconds(100), 0, 1),
        (.seconds(3), 3000, 3000), (.nanoseconds(1), 0, 1), (.microseconds(-1900), -1, -1), (.seconds(-2), -2000, -2000),
    ])
    func millisecondsTruncateAndTheRoundingUpVariantRoundsUp(_ duration: Duration, _ truncated: Int64, _ roundedUp: Int64) {
        #expect(duration.milliseconds == truncated)
        #expect(duration.millisecondsRoundedUp == roundedUp)
    }

    @Test func nanosecondsAndSeconds() {
        #expect(Duration.milliseconds(1500).nanoseconds == 1_500_000_000)
        #expect(Duration.nanoseconds(-7).nanoseconds == -7)
        #expect(Duration.milliseconds(1500).seconds == 1.5)
        #expect(Duration.milliseconds(-250).seconds == -0.25)
        #expect(Duration.zero.seconds == 0)
    }

    /// Durations beyond what an Int64 of the unit holds saturate instead of trapping.
    @Test func hugeDurationsSaturate() {
        let huge = Duration.seconds(Int64.max)
        #expect(huge.milliseconds == .max && huge.millisecondsRoundedUp == .max && huge.nanoseconds == .max)
        let negative = Duration.seconds(Int64.min)
        #expect(negative.milliseconds == .min && negative.nanoseconds == .min)
        #expect(Duration.seconds(9_223_372_036).nanoseconds == 9_223_372_036_000_000_000)
        #expect(Duration.seconds(9_223_372_037).nanoseconds == .max)
    }
}
