/// Expands `${NAME}` references in configuration values from an environment dictionary.
///
/// `$${` stands for a literal `${`; any other `$` is kept as is. Names are
/// `[A-Za-z_][A-Za-z0-9_]*`. A variable that is set to the empty string expands to it; one that
/// is not set is an error, so a missing secret never turns into an empty header silently.
public enum EnvironmentExpansion {
    /// Why a value could not be expanded.
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        /// What went wrong.
        public enum Reason: Sendable, Hashable {
            /// `${NAME}` refers to a variable that is not set.
            case missingVariable
            /// `${` without a closing `}`.
            case unterminated
            /// The text between `${` and `}` is not a valid name.
            case invalidName
        }

        /// What went wrong.
        public var reason: Reason
        /// The variable's name (or the text found where a name was expected).
        public var variable: String

        /// Creates an error.
        public init(reason: Reason, variable: String) {
            self.reason = reason
            self.variable = variable
        }

        /// Names the variable; never includes any value.
        public var description: String {
            switch reason {
            case .missingVariable: "environment variable '\(variable)' is not set"
            case .unterminated: "'${' without a closing '}'"
            case .invalidName: "'\(variable)' is not a valid environment variable name"
            }
        }
    }

    /// Returns `text` with every `${NAME}` replaced by `environment[NAME]`.
    /// - Throws: ``EnvironmentExpansion/Error`` naming the variable that is missing or malformed.
    public static func expand(_ text: String, environment: [String: String]) throws(EnvironmentExpansion.Error) -> String {
        guard text.contains("$") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else {
                result.append(character)
                index = text.index(after: index)
                continue
            }
            let rest = text[index...]
            if rest.hasPrefix("$${") {
                result += "${"
                index = text.index(index, offsetBy: 3)
            } else if rest.hasPrefix("${") {
                let nameStart = text.index(index, offsetBy: 2)
                guard let close = text[nameStart...].firstIndex(of: "}") else {
                    throw Error(reason: .unterminated, variable: String(text[nameStart...].prefix(64)))
                }
                let name = String(text[nameStart..<close])
                guard isValidName(name) else { throw Error(reason: .invalidName, variable: String(name.prefix(64))) }
                guard let value = environment[name] else { throw Error(reason: .missingVariable, variable: name) }
                result += value
                index = text.index(after: close)
            } else {
                result.append(character)
                index = text.index(after: index)
            }
        }
        return result
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
