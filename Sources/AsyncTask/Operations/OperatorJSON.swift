public import Foundation

/// The JSON operators read, from the CLI's `--json` and the admin API alike: sorted snake_case keys and
/// ISO 8601 UTC timestamps to the millisecond (`2026-12-02T01:18:36.123Z`), so events a few milliseconds apart
/// keep their order.
public enum OperatorJSON {
    /// An encoder with those settings; `pretty` indents (the CLI), otherwise one line (the API).
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return encoder
    }

    /// `date` as the JSON writes it.
    public static func timestamp(_ date: Date) -> String {
        // Rounded to the millisecond by hand: the format style truncates, and .678 is stored as .67799….
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let fraction = ((millis % 1000) + 1000) % 1000
        let whole = Date(timeIntervalSince1970: Double((millis - fraction) / 1000)).formatted(Date.ISO8601FormatStyle())
        return whole.dropLast() + "." + String(repeating: "0", count: fraction < 10 ? 2 : fraction < 100 ? 1 : 0) + String(fraction) + "Z"
    }
}
