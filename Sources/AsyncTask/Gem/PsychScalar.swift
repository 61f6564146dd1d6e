import Foundation

/// What Ruby's YAML library makes of a plain (unquoted, untagged) scalar: the rules of Psych's
/// `ScalarScanner#tokenize` as Ruby 3.1 ships them (Psych 4.0).
///
/// The gem wrote its arguments with `to_yaml`, and Psych's emitter leaves a string unquoted exactly when
/// `tokenize` reads it back as that string. So the gem's plain scalars must be typed by these rules, not by
/// YAML 1.1's: `1e3`, `12E5`, `1.5e3`, `6e07`, `0o17` and `1__0` are strings to Ruby (a float needs a `.` and a
/// signed exponent; `0o` is no prefix; `_` only between digits), while `017` is octal 15, `1,000` is 1000 and
/// `1:30` is sexagesimal (5400, as Psych computes it). A scalar Psych itself cannot read (`0b_`, `.e+5`, a time
/// separated by a tab) throws: Ruby's `YAML.load` raises on it too.
package enum PsychScalar: Sendable, Hashable {
    /// `~`, `null` (any case) or nothing.
    case null
    /// `true`/`yes`/`on` and `false`/`no`/`off`, any case.
    case bool(Bool)
    /// An integer of any size, as JSON's decimal digits (`-12`, `1180591620717411303424`).
    case integer(String)
    /// A float (`1.5`, `1.0e+20`, `.inf`, `.nan`).
    case float(Double)
    /// A time Ruby can represent, as written (`2026-12-02 01:15:56.500000000 Z`).
    case time(String)
    /// A date Ruby's `Date` accepts, as written (`2026-12-02`).
    case date(String)
    /// A symbol, by its name (`:pending` → `pending`).
    case symbol(String)
    /// Everything else: the text itself.
    case string(String)

    /// A plain scalar that Psych raises on instead of typing it.
    package struct Unreadable: Error, Sendable, Hashable {
        /// Why, without the value.
        package let reason: String
    }

    /// Types `text`, a plain scalar's value, as Psych's `tokenize` does.
    /// - Throws: `Unreadable` where Psych raises (`Integer("0b")`, `Float("e+5")`, a tab-separated time).
    package static func tokenize(_ text: String) throws(Unreadable) -> PsychScalar {
        if text.isEmpty { return .null }
        let scalars = Array(text.unicodeScalars)
        if scalars.contains("\n") || startsLikeWord(scalars) { return wordlike(text, scalars) }
        // The common case first: a decimal integer (`0` or no leading zero) matches nothing before INTEGER.
        if scalars.allSatisfy({ $0.isASCIIDigit }), scalars[0] != "0" || scalars.count == 1 { return .integer(text) }
        // Cheap tests first: each pattern below needs characters the common scalars (symbol keys) lack.
        let colon = scalars.contains(":")
        let dated = scalars[0].isASCIIDigit || scalars[0] == "-"
        if dated, colon, scalars.count >= 14, matches(Pattern.time, text) {
            return try isRubyTime(text) ? .time(text) : .string(text)
        }
        if dated, (8...10).contains(scalars.count), matches(Pattern.date, text) {
            return isRubyDate(text) ? .date(text) : .string(text)
        }
        let lowered = text.lowercased()
        if lowered == ".inf" || lowered == "+.inf" { return .float(.infinity) }
        if lowered == "-.inf" { return .float(-.infinity) }
        if lowered == ".nan" { return .float(.nan) }
        if scalars[0] == ":" && scalars.count > 1 { return .symbol(symbolName(text)) }
        if colon, matches(Pattern.sexagesimalInteger, text) { return .integer(try sexagesimalInteger(text)) }
        if colon, matches(Pattern.sexagesimalFloat, text) { return .float(sexagesimalFloat(text)) }
        if scalars.contains("."), matches(Pattern.float, text) {
            if text == "." || text == "+." || text == "-." { return .string(text) }
            return .float(try rubyFloat(cleanedFloat(text)))
        }
        if matches(Pattern.integer, text) { return .integer(try rubyInteger(text.filter { $0 != "," && $0 != "_" })) }
        return .string(text)
    }

    /// Ruby's `Float#to_s`, which is also the JSON Ruby writes for a finite float: the shortest digits that read
    /// back as the same double, in fixed notation from 0.0001 up to 15 integer digits, or 16 when a fraction
    /// follows (`100.0`, `0.0001`, `1234567890123456.8`), else in exponent notation (`1.0e+15`, `1.0e-05`).
    package static func rubyText(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        // Swift's description has the same shortest round-trip digits; only the layout differs.
        var text = Substring(value.magnitude.description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let integerPart = text.prefix { $0 != "." }
        let fraction = text.dropFirst(integerPart.count + 1)
        var digits = Array(integerPart + fraction)
        var point = integerPart.count + exponent  // the value is 0.digits × 10^point
        while digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        let sign = value.sign == .minus ? "-" : ""
        if digits.isEmpty { return sign + "0.0" }
        let all = String(digits)
        if point > 0 && point < digits.count {
            return sign + String(all.prefix(point)) + "." + String(all.dropFirst(point))
        }
        if point > 0 && point <= 15 {  // DBL_DIG
            return sign + all + String(repeating: "0", count: point - digits.count) + ".0"
        }
        if point <= 0 && point > -4 {
            return sign + "0." + String(repeating: "0", count: -point) + all
        }
        let shown = point - 1
        let magnitude = String(abs(shown))
        let mantissa = String(all.prefix(1)) + "." + (digits.count > 1 ? String(all.dropFirst()) : "0")
        return sign + mantissa + "e" + (shown < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" + magnitude : magnitude)
    }

    // MARK: - Psych's patterns

    /// Psych's regular expressions, with Ruby's meaning: `\d` and `\s` are ASCII. They only see text without a
    /// line break (text with one is a string before any of them runs), so `^`/`$` are the text's ends.
    private enum Pattern {
        static let space = #"[ \t\x{0B}\f\r]"#
        static let time = regex(
            #"^-?[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|\#(space)+)[0-9]{1,2}:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:\#(space)*(?:Z|[-+][0-9]{1,2}:?(?:[0-9][0-9])?))?$"#
        )
        static let date = regex(#"^[0-9]{4}-(?:1[012]|0[0-9]|[0-9])-(?:[12][0-9]|3[01]|0[0-9]|[0-9])$"#)
        static let sexagesimalInteger = regex(#"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}$"#)
        static let sexagesimalFloat = regex(#"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}\.[0-9_]*$"#)
        static let float = regex(#"^[-+]?(?:[0-9][0-9_,]*)?\.[0-9]*(?:[eE][-+][0-9]+)?$"#)
        static let integer = regex(
            #"^(?:[-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[0-9a-fA-F_,]+)$"#)
        /// A symbol written `:"…"` or `:'…'`: the name is up to the last matching quote.
        static let quotedSymbol = regex(#"^:(["'])(.*)\1"#)

        private static func regex(_ pattern: String) -> NSRegularExpression {
            do {
                return try NSRegularExpression(pattern: pattern)
            } catch {
                // The patterns are constants; PsychScalarTests runs every one of them.
                preconditionFailure("invalid PsychScalar pattern \(pattern): \(error)")
            }
        }
    }

    private static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Psych's first test, `^[^\d.:-]?[[:alpha:]_\s!@#$%^&*(){}<>|/\\~;=]+`: a word, not a number or a symbol.
    private static func startsLikeWord(_ scalars: [Unicode.Scalar]) -> Bool {
        func wordy(_ scalar: Unicode.Scalar) -> Bool {
            // Ruby's [[:alpha:]] on UTF-8 text is Unicode's Alphabetic property; \s is ASCII.
            scalar.properties.isAlphabetic || "_ \t\n\u{0B}\u{0C}\r!@#$%^&*(){}<>|/\\~;=".unicodeScalars.contains(scalar)
        }
        if wordy(scalars[0]) { return true }
        return scalars.count > 1 && !"0123456789.:-".unicodeScalars.contains(scalars[0]) && wordy(scalars[1])
    }

    /// Psych's branch for word-like text: a string unless it is short and reads as null or a boolean. Its
    /// patterns are anchored at every line (Ruby's `^`/`$`), which matters only for text with a line break.
    private static func wordlike(_ text: String, _ scalars: [Unicode.Scalar]) -> PsychScalar {
        if scalars.count > 5 { return .string(text) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // `^[^ytonf~]/i`: a line whose first character (the line break itself for an empty one) is another.
        let starts = lines.enumerated().compactMap { index, line in line.first.map(String.init) ?? (index < lines.count - 1 ? "\n" : nil) }
        if starts.contains(where: { !["y", "t", "o", "n", "f", "~"].contains($0.lowercased()) }) { return .string(text) }
        let lowered = lines.map { $0.lowercased() }
        if text == "~" || lowered.contains("null") { return .null }
        if lowered.contains(where: { ["yes", "true", "on"].contains($0) }) { return .bool(true) }
        if lowered.contains(where: { ["no", "false", "off"].contains($0) }) { return .bool(false) }
        return .string(text)
    }

    /// `:name` → `name`; `:"odd name"` → `odd name` (up to the last matching quote, a leading `:` dropped).
    private static func symbolName(_ text: String) -> String {
        if let match = Pattern.quotedSymbol.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            let inner = Range(match.range(at: 2), in: text)
        {
            let name = text[inner]
            return String(name.hasPrefix(":") ? name.dropFirst() : name)
        }
        return String(text.dropFirst())
    }

    /// Whether Psych's `parse_time` gives a Time (it answers a string where `Time.utc`/`Time.new` raise
    /// ArgumentError: a month, hour or minute out of range, an offset of a day or more).
    private static func isRubyTime(_ text: String) throws(Unreadable) -> Bool {
        // Psych splits date and time at the first space, `t` or `T`; TIME also allows other blanks there, and
        // then the split finds no time and Psych raises NoMethodError.
        guard let split = text.firstIndex(where: { $0 == " " || $0 == "t" || $0 == "T" }),
            let clock = clockParts(Array(text[text.index(after: split)...].unicodeScalars))
        else { throw Unreadable(reason: "a time whose date and time Psych cannot split (a blank other than a space between them)") }
        let date = text[..<split].split(separator: "-", omittingEmptySubsequences: true)
        guard date.count == 3, let month = Int(date[1]), let day = Int(date[2]), let hour = Int(clock.hour), let minute = Int(clock.minute),
            let second = Int(clock.second)
        else { return false }
        guard (1...12).contains(month), (1...31).contains(day), (0...59).contains(minute), (0...60).contains(second) else { return false }
        guard hour < 24 || (hour == 24 && minute == 0 && second == 0) else { return false }
        guard let zone = clock.zone, zone != "Z" else { return true }
        // `^([+\-]?\d{1,2}):?(\d{1,2})?$`: up to two digits of hours, then of minutes.
        var rest = Substring(zone)
        let sign = rest.removeFirst()
        let hoursText = rest.prefix(while: \.isASCIIDigitCharacter).prefix(2)
        rest = rest.dropFirst(hoursText.count)
        if rest.first == ":" { rest = rest.dropFirst() }
        guard let hours = Int(hoursText), rest.count <= 2, rest.allSatisfy(\.isASCIIDigitCharacter) else { return false }
        let minutes = Int(rest) ?? 0
        // Psych's arithmetic: the minutes take the sign of the hours (so -00:30 is +00:30).
        var offset = (sign == "-" ? -hours : hours) * 3600
        offset += offset < 0 ? -minutes * 60 : minutes * 60
        return abs(offset) < 86_400
    }

    /// The first match of Psych's `(\d+:\d+:\d+)(?:\.(\d*))?\s*(Z|[-+]\d+(:\d\d)?)?` in a time's clock part:
    /// hours, minutes, seconds and the zone as written.
    private static func clockParts(_ scalars: [Unicode.Scalar]) -> (hour: String, minute: String, second: String, zone: String?)? {
        func digits(from start: Int) -> Int {
            var end = start
            while end < scalars.count, scalars[end].isASCIIDigit { end += 1 }
            return end
        }
        func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        for start in scalars.indices where scalars[start].isASCIIDigit {
            let hourEnd = digits(from: start)
            guard hourEnd < scalars.count, scalars[hourEnd] == ":" else { continue }
            let minuteEnd = digits(from: hourEnd + 1)
            guard minuteEnd > hourEnd + 1, minuteEnd < scalars.count, scalars[minuteEnd] == ":" else { continue }
            let secondEnd = digits(from: minuteEnd + 1)
            guard secondEnd > minuteEnd + 1 else { continue }
            var index = secondEnd
            if index < scalars.count, scalars[index] == "." { index = digits(from: index + 1) }
            while index < scalars.count, " \t\n\u{0B}\u{0C}\r".unicodeScalars.contains(scalars[index]) { index += 1 }
            var zone: String?
            if index < scalars.count, scalars[index] == "Z" {
                zone = "Z"
            } else if index < scalars.count, scalars[index] == "+" || scalars[index] == "-" {
                let hoursEnd = digits(from: index + 1)
                if hoursEnd > index + 1 {
                    var end = hoursEnd
                    if end + 2 < scalars.count, scalars[end] == ":", scalars[end + 1].isASCIIDigit, scalars[end + 2].isASCIIDigit { end += 3 }
                    zone = text(index..<end)
                }
            }
            return (text(start..<hourEnd), text(hourEnd + 1..<minuteEnd), text(minuteEnd + 1..<secondEnd), zone)
        }
        return nil
    }

    /// Whether Ruby's `Date.strptime(text, '%Y-%m-%d')` accepts it: Julian before 15 October 1582, when ten
    /// days were skipped, Gregorian after.
    private static func isRubyDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month), day >= 1
        else { return false }
        if year == 1582 && month == 10 && (5...14).contains(day) { return false }
        let julian = year < 1582 || (year == 1582 && month < 10) || (year == 1582 && month == 10 && day < 15)
        let leap = julian ? year % 4 == 0 : (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// Psych's base 60: `Σ part.to_i × 60^|index − 2|` (so `1:30` is 5400 and `-1:30` is −1800).
    private static func sexagesimalInteger(_ text: String) throws(Unreadable) -> String {
        var total = 0
        for (index, part) in text.split(separator: ":").enumerated() {
            let (product, overflow) = rubyToI(part).multipliedReportingOverflow(by: [3600, 60, 1][index])
            let (sum, overflowSum) = total.addingReportingOverflow(product)
            guard !overflow, !overflowSum else { throw Unreadable(reason: "a base 60 integer too large to convert") }
            total = sum
        }
        return String(total)
    }

    /// The same for a base 60 float, added in Psych's order.
    private static func sexagesimalFloat(_ text: String) -> Double {
        var total = 0.0
        for (index, part) in text.split(separator: ":").enumerated() {
            total += rubyToF(part) * [3600.0, 60.0, 1.0][index]
        }
        return total
    }

    /// Ruby's `String#to_i` on `[-+]?[0-9][0-9_]*`: digits up to a doubled or trailing underscore.
    private static func rubyToI(_ text: Substring) -> Int {
        let (negative, digits) = rubyDigits(text, allowPoint: false)
        let value = Int(digits) ?? Int.max
        return negative ? -value : value
    }

    /// Ruby's `String#to_f` on a base 60 part: digits, then a point and digits, underscores between digits.
    private static func rubyToF(_ text: Substring) -> Double {
        let (negative, digits) = rubyDigits(text, allowPoint: true)
        let value = Double(digits) ?? 0
        return negative ? -value : value
    }

    private static func rubyDigits(_ text: Substring, allowPoint: Bool) -> (negative: Bool, digits: String) {
        var rest = text
        var negative = false
        if let first = rest.first, first == "-" || first == "+" {
            negative = first == "-"
            rest = rest.dropFirst()
        }
        var digits = ""
        var previousDigit = false
        var seenPoint = false
        var index = rest.startIndex
        while index < rest.endIndex {
            let character = rest[index]
            let next = rest.index(after: index)
            if character.isASCIIDigitCharacter {
                digits.append(character)
                previousDigit = true
            } else if character == "_", previousDigit, next < rest.endIndex, rest[next].isASCIIDigitCharacter {
                previousDigit = false
            } else if character == ".", allowPoint, !seenPoint, previousDigit, next < rest.endIndex, rest[next].isASCIIDigitCharacter {
                digits.append(".")
                seenPoint = true
                previousDigit = false
            } else {
                break
            }
            index = next
        }
        return (negative, digits.isEmpty ? "0" : digits)
    }

    /// Psych's clean-up before `Float()`: commas and underscores go, and a point before the exponent or at the end.
    private static func cleanedFloat(_ text: String) -> String {
        var out = ""
        var characters = Array(text.filter { $0 != "," && $0 != "_" })[...]
        while let character = characters.popFirst() {
            if character == ".", characters.first.map({ $0 == "e" || $0 == "E" }) ?? true { continue }
            out.append(character)
        }
        return out
    }

    /// Ruby's strict `Float()` on Psych's cleaned text: a mantissa with at least one digit.
    private static func rubyFloat(_ text: String) throws(Unreadable) -> Double {
        let mantissa = text.prefix { $0 != "e" && $0 != "E" }
        guard mantissa.contains(where: \.isASCIIDigitCharacter), let value = Double(text) else {
            throw Unreadable(reason: "a float without digits, which Psych cannot read")
        }
        return value
    }

    /// Ruby's strict `Integer()` on Psych's cleaned text (`0b…`, `0x…`, `0…` octal, decimal), any size.
    private static func rubyInteger(_ text: String) throws(Unreadable) -> String {
        var rest = Substring(text)
        var negative = false
        if let first = rest.first, first == "-" || first == "+" {
            negative = first == "-"
            rest = rest.dropFirst()
        }
        let radix: UInt32
        if rest.hasPrefix("0b") || rest.hasPrefix("0x") {
            radix = rest.hasPrefix("0b") ? 2 : 16
            rest = rest.dropFirst(2)
            guard !rest.isEmpty else { throw Unreadable(reason: "an integer prefix without digits, which Psych cannot read") }
        } else if rest.count > 1, rest.hasPrefix("0") {
            radix = 8
            rest = rest.dropFirst()
        } else {
            radix = 10
        }
        // Decimal digits, least significant first, for any size (Ruby integers are unbounded).
        var decimal: [UInt32] = [0]
        for character in rest {
            guard let digit = character.hexDigitValue, digit < radix else {
                throw Unreadable(reason: "an integer with a digit outside its base, which Psych cannot read")
            }
            var carry = UInt32(digit)
            for index in decimal.indices {
                let value = decimal[index] * radix + carry
                decimal[index] = value % 10
                carry = value / 10
            }
            while carry > 0 {
                decimal.append(carry % 10)
                carry /= 10
            }
        }
        while decimal.count > 1, decimal.last == 0 { decimal.removeLast() }
        let digits = String(decimal.reversed().map { Character(String($0)) })
        return negative && digits != "0" ? "-" + digits : digits
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isWholeNumber }
}
