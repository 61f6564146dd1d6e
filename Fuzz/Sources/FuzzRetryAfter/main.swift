import AsyncTaskTargets
import Foundation
import FuzzSupport

/// What every input is checked against (static, so nonisolated code may read it).
enum Fixture {
    /// A fixed clock, so a crash reproduces (2023-11-14T22:13:20Z).
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    /// The longest delay a value can ask for: 12 digits of delta-seconds (longer ones saturate), or an HTTP-date in
    /// year 9999 (a 4-digit year, RFC 9110 §5.6.7) seen from `now`.
    static let longest = Duration.seconds(999_999_999_999)
}

/// `Retry-After` text → nil, or a delay in `0...longest`; an HTTP-date measured from its own instant is zero and
/// from one second before it is one second.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRetryAfter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = FuzzCheck.text(data, size)
    guard let delay = RetryAfterParser.parse(text, now: Fixture.now) else { return 0 }
    FuzzCheck.require(delay >= .zero, "a delay is never negative (got \(delay))", input: text)
    FuzzCheck.require(delay <= Fixture.longest, "a delay is at most \(Fixture.longest) (got \(delay))", input: text)
    if let date = RetryAfterParser.httpDate(text.trimmingCharacters(in: .whitespaces)) {
        FuzzCheck.require(RetryAfterParser.parse(text, now: date) == .zero, "an HTTP-date is no delay at its own instant", input: text)
        FuzzCheck.require(
            RetryAfterParser.parse(text, now: date.addingTimeInterval(-1)) == .seconds(1),
            "an HTTP-date is a 1 s delay one second before it", input: text)
    }
    return 0
}

FuzzDriver.run(fuzzRetryAfter)
