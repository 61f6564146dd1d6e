import AsyncTaskCore

/// A value the loader fills in key by key, starting from its defaults (the whole configuration, a target's
/// raw block, the webhook's own options). Typed settings read their documented default from ``defaults``, so a
/// default is written once: in the section's initialiser.
protocol ConfigurationSection {
    /// The value before any key is read.
    static var defaults: Self { get }
}

/// A row of the key table bound to where its value goes in `Section`: reading it checks the value against the
/// row's type and validation and stores it, or leaves what `section` already holds when the key is not set.
struct ConfigurationSetting<Section> {
    /// The documented key.
    let key: ConfigurationKey
    /// Reads the key at a path (the key's path with its placeholders filled in) into `section`.
    let read: (ConfigValues, ConfigurationPath, inout Section) throws(ConfigurationError) -> Void

    /// A row with its own reading rule.
    init(
        _ path: String, type: String, default defaultValue: String, secret: Bool = false, doc: String,
        read: @escaping (ConfigValues, ConfigurationPath, inout Section) throws(ConfigurationError) -> Void
    ) {
        key = ConfigurationKey(path: path, type: type, defaultValue: defaultValue, isSecret: secret, doc: doc)
        self.read = read
    }

    /// Text as written (`${VAR}` left for the target to expand, as it does for its URL, headers and TLS paths).
    static func raw(
        _ path: String, _ field: WritableKeyPath<Section, String?>, type: String = "text", default defaultValue: String,
        secret: Bool = false, doc: String
    ) -> Self {
        .init(path, type: type, default: defaultValue, secret: secret, doc: doc) { values, key, section throws(ConfigurationError) in
            if let text = try values.raw(key.path, secret: secret) { section[keyPath: field] = text }
        }
    }

    /// A whole number, range-checked later by the section's own validation (a target's `TargetConfiguration`).
    static func number(_ path: String, _ field: WritableKeyPath<Section, Int?>, type: String, default defaultValue: String, doc: String) -> Self {
        .init(path, type: type, default: defaultValue, doc: doc) { values, key, section throws(ConfigurationError) in
            if let value = try values.optionalInt(key.path) { section[keyPath: field] = value }
        }
    }

    /// `true` or `false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    static func flag(_ path: String, _ field: WritableKeyPath<Section, Bool?>, default defaultValue: Bool, doc: String) -> Self {
        .init(path, type: flagType, default: ConfigurationKey.code(defaultValue), doc: doc) { values, key, section throws(ConfigurationError) in
            if let value = try values.bool(key.path) { section[keyPath: field] = value }
        }
    }

    /// The type column of a boolean.
    static var flagType: String { "`true` or `false`" }
}

extension ConfigurationSetting where Section: ConfigurationSection {
    /// A whole number in `range`; the default is the section's.
    static func integer(_ path: String, _ field: WritableKeyPath<Section, Int>, in range: ClosedRange<Int>, doc: String) -> Self {
        .init(
            path, type: "whole number \(range.lowerBound)…\(range.upperBound)", default: ConfigurationKey.code(Section.defaults[keyPath: field]),
            doc: doc
        ) {
            values, key, section throws(ConfigurationError) in
            section[keyPath: field] = try values.int(key.path, default: section[keyPath: field], in: range)
        }
    }

    /// A duration of at least `minimum`; the default is the section's.
    static func duration(_ path: String, _ field: WritableKeyPath<Section, Duration>, minimum: Duration, doc: String) -> Self {
        let type = minimum == .zero ? "duration" : "duration ≥ \(DurationParser.format(minimum))"
        return .init(path, type: type, default: ConfigurationKey.code(DurationParser.format(Section.defaults[keyPath: field])), doc: doc) {
            values, key, section throws(ConfigurationError) in
            section[keyPath: field] = try values.duration(key.path, default: section[keyPath: field], minimum: minimum)
        }
    }

    /// One of the cases of `Value`, written in any case; the default is the section's.
    static func choice<Value: RawRepresentable<String> & CaseIterable>(_ path: String, _ field: WritableKeyPath<Section, Value>, doc: String) -> Self
    {
        let names = Value.allCases.map(\.rawValue)
        return .init(
            path, type: "one of " + names.map(ConfigurationKey.code).joined(separator: ", "),
            default: ConfigurationKey.code(Section.defaults[keyPath: field].rawValue), doc: doc
        ) {
            values, key, section throws(ConfigurationError) in
            guard let text = try values.string(key.path) else { return }
            guard let value = Value(rawValue: text.lowercased()) else {
                throw ConfigurationError(key: key.path, reason: "'\(text)' is not one of \(names.joined(separator: ", "))")
            }
            section[keyPath: field] = value
        }
    }
}
