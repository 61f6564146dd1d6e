import AsyncTaskCore
import Testing

@Suite("UTC timestamps as text")
struct UTCTimestampTests {
    /// 2000-01-01 00:00:00 UTC in Unix microseconds.
    static let y2k: Int64 = 946_684_800_000_000

    @Test("calendar dates across the epoch, leap days and century rules")
    func calendar() {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00.000Z"),
            (Self.y2k, "2000-01-01T00:00:00.000Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00.000Z"),  // 2000 is a leap year (divisible by 400)
            (4_107_542_400_000_000, "2100-03-01T00:00:00.000Z"),  // 2100 is not: the day after 02-28
            (4_107_542_400_000_000 - 1, "2100-02-28T23:59:59.999Z"),
            (1_709_164_800_000_000 + 86_399_999_999, "2024-02-29T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (-86_400_000_000, "1969-12-31T00:00:00.000Z"),
            (-2_208_988_800_000_000, "1900-01-01T00:00:00.000Z"),
        ]
        for (micros, text) in cases {
            #expect(UTCTimestamp(microsecondsSinceEpoch: micros).iso8601Milliseconds == text, "\(micros)")
        }
    }

    @Test("milliseconds are truncated, as to_char's MS; the PostgreSQL form keeps every microsecond")
    func precision() {
        let t = UTCTimestamp(microsecondsSinceEpoch: Self.y2k + 123_999)
        #expect(t.iso8601Milliseconds == "2000-01-01T00:00:00.123Z")
        #expect(t.postgresText == "2000-01-01 00:00:00.123999+00")
        let before = UTCTimestamp(microsecondsSinceEpoch: -1)
        #expect(before.postgresText == "1969-12-31 23:59:59.999999+00")
        #expect(before.fields.microsecond == 999_999)
    }
}
