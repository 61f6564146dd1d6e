import AsyncTask
import AsyncTaskCore
import AsyncTaskTargets
import Foundation
import TestSupport
import Testing

struct EnvironmentExpansionTests {
    let environment = ["TOKEN": "s3cret", "EMPTY": "", "HOST_1": "h"]

    @Test func expandsVariablesAndKeepsOtherDollars() throws {
        #expect(try EnvironmentExpansion.expand("Bearer ${TOKEN}", environment: environment) == "Bearer s3cret")
        #expect(try EnvironmentExpansion.expand("${HOST_1}:${HOST_1}", environment: environment) == "h:h")
        #expect(try EnvironmentExpansion.expand("a${EMPTY}b", environment: environment) == "ab")
        #expect(try EnvironmentExpansion.expand("cost $5 $TOKEN", environment: environment) == "cost $5 $TOKEN")
        #expect(try EnvironmentExpansion.expand("literal $${TOKEN}", environment: environment) == "literal ${TOKEN}")
        #expect(try EnvironmentExpansion.expand("no variables", environment: [:]) == "no variables")
    }

    @Test func namesTheMissingVariable() {
        #expect(throws: EnvironmentExpansion.Error(reason: .missingVariable, variable: "ORDERS_TOKEN")) {
            try EnvironmentExpansion.expand("Bearer ${ORDERS_TOKEN}", environment: environment)
        }
        #expect(throws: EnvironmentExpansion.Error(reason: .unterminated, variable: "TOKEN")) {
            try EnvironmentExpansion.expand("${TOKEN", environment: environment)
        }
        #expect(throws: EnvironmentExpansion.Error(reason: .invalidName, variable: "1X")) {
            try EnvironmentExpansion.expand("${1X}", environment: environment)
        }
    }
}

struct BackoffTests {

    @Test func ceilingDoublesFromBaseUpToMax() {
        let backoff = Backoff(base: .seconds(1), max: .seconds(3600))
        #expect(backoff.ceiling(afterAttempt: 1) == .seconds(1))
        #expect(backoff.ceiling(afterAttempt: 2) == .seconds(2))
        #expect(backoff.ceiling(afterAttempt: 5) == .seconds(16))
        #expect(backoff.ceiling(afterAttempt: 12) == .seconds(2048))
        #expect(backoff.ceiling(afterAttempt: 13) == .seconds(3600))
        #expect(backoff.ceiling(afterAttempt: 1000) == .seconds(3600))
        #expect(backoff.ceiling(afterAttempt: 0) == .seconds(1))
    }

    @Test func fullJitterStaysWithinTheCeilingAndIsDeterministicWithASeed() {
        let backoff = Backoff(base: .milliseconds(500), max: .seconds(60))
        var first = SeededRandom(seed: 42)
        var second = SeededRandom(seed: 42)
        var delays: [Duration] = []
        for attempt in 1...20 {
            let delay = backoff.delay(afterAttempt: attempt, using: &first)
            #expect(delay >= .zero && delay <= backoff.ceiling(afterAttempt: attempt))
            #expect(delay == backoff.delay(afterAttempt: attempt, using: &second))
            delays.append(delay)
        }
        // Jitter: not simply the ceilings.
        #expect(Set(delays).count > 15)
        #expect(zip(delays, (1...20).map { backoff.ceiling(afterAttempt: $0) }).contains { $0 != $1 })
    }
}

struct RetryAfterParserTests {
    let now = Date(timeIntervalSince1970: 1_445_412_400)  // Wed, 21 Oct 2015 07:26:40 GMT

    @Test func readsDeltaSeconds() {
        #expect(RetryAfterParser.parse("120", now: now) == .seconds(120))
        #expect(RetryAfterParser.parse(" 0 ", now: now) == .zero)
    }

    @Test func readsAllThreeHTTPDateForms() {
        #expect(RetryAfterParser.parse("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(80))
        #expect(RetryAfterParser.parse("Wednesday, 21-Oct-15 07:28:00 GMT", now: now) == .seconds(80))
        #expect(RetryAfterParser.parse("Wed Oct 21 07:28:00 2015", now: now) == .seconds(80))
        #expect(RetryAfterParser.httpDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
    }

    @Test func pastDatesAreZeroAndGarbageIsNil() {
        #expect(RetryAfterParser.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .zero)
        #expect(RetryAfterParser.parse("soon", now: now) == nil)
        #expect(RetryAfterParser.parse("-5", now: now) == nil)
        #expect(RetryAfterParser.parse("1.5", now: now) == nil)
        #expect(RetryAfterParser.parse("Wed, 32 Oct 2015 07:28:00 GMT", now: now) == nil)
        #expect(RetryAfterParser.parse("", now: now) == nil)
    }

    // Found by Fuzz/FuzzRetryAfter: a year past 4 digits overflowed the delay's conversion to milliseconds (a trap
    // in the worker, on a header any target can send). Every form now reads only years 1970 through 9999.
    @Test func yearsBeyondFourDigitsAreNotDates() {
        #expect(RetryAfterParser.parse("Wed, 21 Oct 2999999999 07:28:0 GMT", now: now) == nil)
        #expect(RetryAfterParser.parse("Sun Nov  6 08:49:37 19999994", now: now) == nil)
        #expect(RetryAfterParser.parse("Sunday, 06-Nov-9999999999999 08:49:37 GMT", now: now) == nil)
        #expect(RetryAfterParser.httpDate("Fri, 31 Dec 9999 23:59:59 GMT") == Date(timeIntervalSince1970: 253_402_300_799))
        #expect(RetryAfterParser.parse("Fri, 31 Dec 9999 23:59:59 GMT", now: now) == .seconds(253_402_300_799 - 1_445_412_400))
    }
}

struct ResponseExcerptTests {
    @Test func excerptIsBoundedValidUTF8() {
        #expect(ResponseExcerpt.make(Array("hello".utf8)) == "hello")
        let long = ResponseExcerpt.make(Array(repeating: UInt8(ascii: "x"), count: 10_000))
        #expect(long.utf8.count == 512)
        // "é" is 2 bytes: a cut in its middle backs up to the character's start.
        let accents = ResponseExcerpt.make(Array(String(repeating: "é", count: 300).utf8), maxBytes: 511)
        #expect(accents.utf8.count == 510)
        #expect(accents.allSatisfy { $0 == "é" })
        let invalid = ResponseExcerpt.make([0x61, 0xFF, 0xFE, 0x62])
        #expect(invalid == "a\u{FFFD}\u{FFFD}b")
        let invalidAtLimit = ResponseExcerpt.make(Array(repeating: 0xFF, count: 600), maxBytes: 512)
        #expect(invalidAtLimit.utf8.count <= 512)
        #expect(ResponseExcerpt.make([]) == "")
    }
}
