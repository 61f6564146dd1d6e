public import AsyncTaskCore
import Foundation
import Yams

/// Turns `method_args` written by Square's async_task gem into the JSON object a target receives.
///
/// The gem stores `encryptor.encrypt(args.to_yaml)` through `serialize :method_args`, so with its
/// `AsyncTask::NullEncryptor` the column holds a YAML document whose value is a string, and that string is the
/// YAML of the arguments hash (Psych's format, symbol keys written `:order_number: 7`). The conversion rules,
/// documented in the README ("From the async_task gem"):
///
/// - symbols become strings (`:order_number` → `"order_number"`, `:pending` → `"pending"`), as keys and values;
/// - dates and times become ISO 8601 strings (`2026-12-02`, `2026-12-02T01:15:56.500000000Z`), digits as written;
/// - integers of any size and finite floats become JSON numbers; `nil` becomes `null`; `true`/`false` stay;
/// - `ActiveSupport::HashWithIndifferentAccess` (`!ruby/hash:…`) and `!ruby/array:…` are plain objects/arrays;
/// - keys that are not symbols or strings (integers, booleans) become their text, as Ruby's `to_json` does;
/// - an empty document or `nil` means no arguments: `{}`.
///
/// Everything else JSON cannot hold is rejected with a `GemArgumentsError` naming where it is: Ruby objects
/// (`!ruby/object:BigDecimal`, `Set`, `TimeWithZone`, structs), binary strings (`!binary`), `.inf`/`.nan`,
/// arguments that are not a hash, and keys that collide once symbols become strings (`:a` and `"a"`).
/// A rejected row is never sent: the node fails it with error kind `arguments_undecodable`, and adoption
/// lists it and leaves it as it was.
public struct GemArgumentsDecoder: Sendable {
    /// The gem's default encryptor module, which stores the YAML as it is.
    public static let nullEncryptor = "AsyncTask::NullEncryptor"
    /// The error kind (`last_error_kind`) of an attempt failed because its gem arguments have no JSON form.
    public static let errorKind = AttemptErrorKind.argumentsUndecodable

    /// Creates a decoder.
    public init() {}

    /// The JSON object text for the gem-format `stored` value.
    /// - Throws: `GemArgumentsError` naming the place and the reason when the value has no JSON form.
    public func json(fromStored stored: String) throws(GemArgumentsError) -> String {
        guard let outer = try Self.compose(stored, what: "the stored value") else { return "{}" }
        let arguments: Node?
        switch outer {
        case .scalar(let scalar) where Self.isNull(scalar):
            return "{}"
        case .scalar(let scalar) where outer.tag.description == Tag.Name.str.rawValue:
            // The gem's double layer: the column's YAML holds a string, which is the YAML of the hash.
            arguments = try Self.compose(scalar.string, what: "the arguments")
        case .mapping:
            // A single layer (an application that overrode the gem's writer): the hash itself.
            arguments = outer
        default:
            throw GemArgumentsError(path: "", reason: "the stored value is \(Self.kind(of: outer)), not the gem's YAML string of a hash")
        }
        guard let arguments else { return "{}" }
        if case .scalar(let scalar) = arguments, Self.isNull(scalar) { return "{}" }
        guard case .mapping = arguments else {
            throw GemArgumentsError(
                path: "", reason: "the arguments are \(Self.kind(of: arguments)), not a hash (the gem calls target.method(**args))")
        }
        var output = ""
        try Self.write(arguments, path: "", into: &output)
        return output
    }

    private static func compose(_ text: String, what: String) throws(GemArgumentsError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            // The problem and its position only: YamlError's own description quotes the document.
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw GemArgumentsError(path: "", reason: "\(what) is not valid YAML (\(problem) at line \(mark.line), column \(mark.column))")
            default:
                throw GemArgumentsError(path: "", reason: "\(what) is not valid YAML")
            }
        } catch {
            throw GemArgumentsError(path: "", reason: "\(what) is not valid YAML")
        }
    }

    private static func write(_ node: Node, path: String, into output: inout String) throws(GemArgumentsError) {
        let tag = node.tag.description
        switch node {
        case .mapping(let mapping):
            guard tag == Tag.Name.map.rawValue || tag.hasPrefix("!ruby/hash:") else {
                throw GemArgumentsError(path: path, reason: "a Ruby object (\(tag)) has no JSON form; pass its attributes as a hash")
            }
            output.append("{")
            var seen = Set<String>()
            for (index, pair) in mapping.enumerated() {
                let key = try Self.key(pair.key, path: path)
                let inner = path.isEmpty ? key : "\(path).\(key)"
                guard seen.insert(key).inserted else {
                    throw GemArgumentsError(path: inner, reason: "the key appears twice once symbols become strings (e.g. :\(key) and \"\(key)\")")
                }
                if index > 0 { output.append(",") }
                appendString(key, to: &output)
                output.append(":")
                try write(pair.value, path: inner, into: &output)
            }
            output.append("}")
        case .sequence(let sequence):
            guard tag == Tag.Name.seq.rawValue || tag.hasPrefix("!ruby/array:") else {
                throw GemArgumentsError(path: path, reason: "a Ruby object (\(tag)) has no JSON form; pass an array")
            }
            output.append("[")
            for (index, element) in sequence.enumerated() {
                if index > 0 { output.append(",") }
                try write(element, path: "\(path)[\(index)]", into: &output)
            }
            output.append("]")
        case .scalar(let scalar):
            try writeScalar(scalar, tag: tag, path: path, into: &output)
        case .alias:
            // Yams resolves aliases while composing; one left over is a reference it could not resolve.
            throw GemArgumentsError(path: path, reason: "a YAML alias that refers to nothing")
        }
    }

    private static func writeScalar(_ scalar: Node.Scalar, tag: String, path: String, into output: inout String) throws(GemArgumentsError) {
        let text = scalar.string
        switch tag {
        case Tag.Name.null.rawValue:
            output.append("null")
        case Tag.Name.bool.rawValue:
            output.append(["true", "yes", "on"].contains(text.lowercased()) ? "true" : "false")
        case Tag.Name.int.rawValue:
            output.append(try integer(text, path: path))
        case Tag.Name.float.rawValue:
            output.append(try float(text, path: path))
        case Tag.Name.timestamp.rawValue:
            appendString(iso8601(text), to: &output)
        case "!ruby/symbol", "!ruby/sym":
            appendString(text, to: &output)
        case Tag.Name.binary.rawValue, "!binary":
            throw GemArgumentsError(path: path, reason: "a binary string (!binary, not UTF-8 text) has no JSON form; pass it Base64-encoded")
        default:
            guard tag == Tag.Name.str.rawValue || tag == Tag.Name.merge.rawValue || tag == Tag.Name.value.rawValue else {
                throw GemArgumentsError(path: path, reason: "a Ruby object (\(tag)) has no JSON form; pass a string or a number instead")
            }
            appendString(symbolName(scalar) ?? text, to: &output)
        }
    }

    /// A key's text: symbols lose their colon; scalars of other types are written as they read.
    private static func key(_ node: Node, path: String) throws(GemArgumentsError) -> String {
        guard case .scalar(let scalar) = node else {
            throw GemArgumentsError(path: path, reason: "a key is \(kind(of: node)); JSON keys are strings")
        }
        let tag = node.tag.description
        if tag == Tag.Name.null.rawValue { return "" }
        if tag == Tag.Name.bool.rawValue { return ["true", "yes", "on"].contains(scalar.string.lowercased()) ? "true" : "false" }
        if tag == Tag.Name.int.rawValue { return try integer(scalar.string, path: path) }
        if tag.hasPrefix("!") && tag != "!ruby/symbol" && tag != "!ruby/sym" {
            throw GemArgumentsError(path: path, reason: "a key is a Ruby object (\(tag)); JSON keys are strings")
        }
        return symbolName(scalar) ?? scalar.string
    }

    /// Psych writes a symbol as a plain scalar with a leading colon, and quotes every string that starts with one.
    private static func symbolName(_ scalar: Node.Scalar) -> String? {
        guard scalar.style == .plain, scalar.string.count > 1, scalar.string.hasPrefix(":") else { return nil }
        var name = scalar.string.dropFirst()
        // `:"odd key"` is how a symbol with spaces can be written by hand.
        if name.count >= 2, let first = name.first, first == "\"" || first == "'", name.last == first {
            name = name.dropFirst().dropLast()
        }
        return String(name)
    }

    private static func isNull(_ scalar: Node.Scalar) -> Bool {
        Node.scalar(scalar).tag.description == Tag.Name.null.rawValue
    }

    /// YAML 1.1 integers (decimal with `_` separators, 0x, 0o/0, 0b) as JSON's decimal digits, any size.
    private static func integer(_ text: String, path: String) throws(GemArgumentsError) -> String {
        var digits = text.replacingOccurrences(of: "_", with: "")
        var sign = ""
        if let first = digits.first, first == "-" || first == "+" {
            if first == "-" { sign = "-" }
            digits.removeFirst()
        }
        let radix: Int
        if digits.hasPrefix("0x") {
            radix = 16
            digits.removeFirst(2)
        } else if digits.hasPrefix("0b") {
            radix = 2
            digits.removeFirst(2)
        } else if digits.hasPrefix("0o") {
            radix = 8
            digits.removeFirst(2)
        } else if digits.count > 1, digits.hasPrefix("0") {
            radix = 8
            digits.removeFirst()
        } else {
            radix = 10
        }
        if radix == 10, !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
            return sign + digits
        }
        guard let value = Int64(digits, radix: radix) else {
            throw GemArgumentsError(path: path, reason: "the integer is not decimal and does not fit 64 bits, or is sexagesimal; write it in decimal")
        }
        return sign == "-" ? String(-value) : String(value)
    }

    /// Finite YAML floats as JSON numbers; `.inf` and `.nan` have none.
    private static func float(_ text: String, path: String) throws(GemArgumentsError) -> String {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        guard let value = Double(cleaned), value.isFinite else {
            throw GemArgumentsError(path: path, reason: "an infinite or NaN float (or a sexagesimal one) has no JSON form")
        }
        // JSON's grammar is stricter than YAML's (`1.`, `.5`, `+1.0` are YAML only): keep the text when it is
        // already JSON, so digits are not lost, else write the Double.
        if cleaned.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"#, options: .regularExpression) != nil {
            return cleaned
        }
        return "\(value)"
    }

    /// `2026-12-02 01:15:56.5 Z` → `2026-12-02T01:15:56.5Z`; `+01:00`/`-5` offsets become `±hh:mm`.
    private static func iso8601(_ text: String) -> String {
        guard let split = text.firstIndex(where: { $0 == " " || $0 == "t" || $0 == "T" || $0 == "\t" }) else { return text }
        let date = text[..<split]
        var time = text[text.index(after: split)...].drop(while: { $0 == " " || $0 == "\t" })
        var zone = ""
        if let zoneStart = time.firstIndex(where: { $0 == "Z" || $0 == "z" || $0 == "+" || $0 == "-" }) {
            let raw = time[zoneStart...]
            time = time[..<zoneStart]
            if raw == "Z" || raw == "z" {
                zone = "Z"
            } else {
                let sign = raw.prefix(1)
                let parts = raw.dropFirst().split(separator: ":")
                let hours = parts.first.map(String.init) ?? "0"
                let minutes = parts.count > 1 ? String(parts[1]) : "00"
                zone = "\(sign)\(hours.count == 1 ? "0" + hours : hours):\(minutes)"
            }
        }
        return "\(date)T\(time.trimmingCharacters(in: .whitespaces))\(zone)"
    }

    private static func appendString(_ text: String, to output: inout String) {
        output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                output.append(String(format: "\\u%04x", scalar.value))
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }

    private static func kind(of node: Node) -> String {
        switch node {
        case .mapping: "a hash"
        case .sequence: "an array"
        case .scalar: node.tag.description == Tag.Name.str.rawValue ? "a string" : "a scalar (\(node.tag.description))"
        case .alias: "an alias"
        }
    }
}
