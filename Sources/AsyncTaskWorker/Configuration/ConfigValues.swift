import AsyncTaskCore
import AsyncTaskTargets
import Configuration
import Foundation

/// Reads typed values through swift-configuration, with errors that name the key. Values are read as text and
/// parsed here so a malformed value is an error, never a silent default.
struct ConfigValues {
    let reader: ConfigReader
    let environment: [String: String]

    /// The value as written, `${VAR}` not expanded (targets expand their own).
    func raw(_ key: String, secret: Bool = false) throws(ConfigurationError) -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: secret)
    }

    /// The value with `${VAR}` expanded.
    func string(_ key: String, secret: Bool = false) throws(ConfigurationError) -> String? {
        guard let text = try raw(key, secret: secret) else { return nil }
        do {
            return try EnvironmentExpansion.expand(text, environment: environment)
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
    }

    /// A list: a YAML sequence, or comma-separated text (environment variables).
    func stringList(_ key: String, secret: Bool = false) throws(ConfigurationError) -> [String]? {
        let items: [String]
        if let array = reader.stringArray(forKey: ConfigKey(key), isSecret: secret) {
            items = array
        } else if let text = reader.string(forKey: ConfigKey(key), isSecret: secret) {
            items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            return nil
        }
        do {
            return try items.map { item throws(EnvironmentExpansion.Error) in try EnvironmentExpansion.expand(item, environment: environment) }.filter
            { !$0.isEmpty }
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
    }

    func optionalInt(_ key: String) throws(ConfigurationError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: key, reason: "'\(text)' is not a whole number")
        }
        return value
    }

    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = try optionalInt(key) else { return defaultValue }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, reason: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigurationError(key: key, reason: "'\(text)' is not true or false")
        }
    }

    func duration(_ key: String, default defaultValue: Duration, minimum: Duration) throws(ConfigurationError) -> Duration {
        guard let text = try string(key) else { return defaultValue }
        let value: Duration
        do {
            value = try DurationParser.parse(text)
        } catch {
            throw ConfigurationError(key: key, reason: error.description)
        }
        guard value >= minimum else { throw ConfigurationError(key: key, reason: "must be at least \(minimum) (got \(text))") }
        return value
    }
}
