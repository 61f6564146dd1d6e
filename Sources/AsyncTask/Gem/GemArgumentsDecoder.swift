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
/// - unquoted scalars are typed as Ruby's Psych types them (`PsychScalar`), not by YAML 1.1's rules, so what
///   Ruby reads as a string (`1e3`, `0o17`, `1__0`) stays a string;
/// - symbols become strings (`:order_number` → `"order_number"`, `:pending` → `"pending"`), as keys and values;
/// - dates and times become ISO 8601 strings (`2026-12-02`, `2026-12-02T01:15:56.500000000Z`), digits as written;
/// - integers of any size and finite floats become JSON numbers, floats written as Ruby writes them (`1.0e+20`);
///   `nil` becomes `null`; `true`/`false` stay;
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
        case .scalar(let scalar):
            switch try Self.value(of: scalar, tag: outer.tag.description, path: "") {
            case .null:
                return "{}"
            case .string(let inner):
                // The gem's double layer: the column's YAML holds a string, which is the YAML of the hash.
                arguments = try Self.compose(inner, what: "the arguments")
            case let other:
                throw GemArgumentsError(path: "", reason: "the stored value is \(Self.kind(of: other)), not the gem's YAML string of a hash")
            }
        case .mapping:
            // A single layer (an application that overrode the gem's writer): the hash itself.
            arguments = outer
        default:
            throw GemArgumentsError(path: "", reason: "the stored value is \(Self.kind(of: outer)), not the gem's YAML string of a hash")
        }
        guard let arguments else { return "{}" }
        if case .scalar(let scalar) = arguments {
            let value = try Self.value(of: scalar, tag: arguments.tag.description, path: "")
            if value == .null { return "{}" }
            throw GemArgumentsError(
                path: "", reason: "the arguments are \(Self.kind(of: value)), not a hash (the gem calls target.method(**args))")
        }
        guard case .mapping = arguments else {
            throw GemArgumentsError(
                path: "", reason: "the arguments are \(Self.kind(of: arguments)), not a hash (the gem calls target.method(**args))")
        }
        var output = ""
        try Self.write(arguments, path: "", into: &output)
        return output
    }

    /// The tag every untagged plain scalar resolves to: the decoder types those itself, by Psych's rules
    /// (`PsychScalar`), where Yams' default resolver would apply YAML 1.1's (`1e3` a float, `0o17` an integer).
    static let plainTag = Tag.Name(rawValue: "tag:asynctask,2026:psych-plain")
    static let resolver: Resolver = {
        do {
            return Resolver.basic.appending(try Resolver.Rule(plainTag, "^"))
        } catch {
            // A constant pattern, used by every decoding.
            preconditionFailure("the plain-scalar rule does not compile: \(error)")
        }
    }()

    private static func compose(_ text: String, what: String) throws(GemArgumentsError) -> Node? {
        do {
            return try Yams.compose(yaml: text, resolver)
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

    /// What Psych's `deserialize` makes of a scalar: quoted ones and `!!str` are strings, plain untagged ones
    /// are typed by `PsychScalar`, symbol and float tags are honoured, Ruby objects and `!binary` have no JSON
    /// form, and any other tag's value is typed as if it were plain.
    private static func value(of scalar: Node.Scalar, tag: String, path: String) throws(GemArgumentsError) -> PsychScalar {
        let text = scalar.string
        if tag == Tag.Name.binary.rawValue || tag == "!binary" {
            throw GemArgumentsError(path: path, reason: "a binary string (!binary, not UTF-8 text) has no JSON form; pass it Base64-encoded")
        }
        if tag == Tag.Name.str.rawValue || tag == "!str" || tag == "!ruby/string" || tag.hasPrefix("!ruby/string:") { return .string(text) }
        if tag == "!ruby/symbol" || tag == "!ruby/sym" || tag.hasPrefix("!ruby/symbol:") || tag.hasPrefix("!ruby/sym:") { return .symbol(text) }
        if tag.hasPrefix("!ruby/") {
            throw GemArgumentsError(path: path, reason: "a Ruby object (\(tag)) has no JSON form; pass a string or a number instead")
        }
        let typed: PsychScalar
        do {
            typed = try PsychScalar.tokenize(text)
        } catch {
            throw GemArgumentsError(path: path, reason: "\(error.reason) (Ruby's YAML.load raises on it too)")
        }
        guard tag == Tag.Name.float.rawValue || tag == "!float" else { return typed }
        // Psych: Float(tokenize(value)).
        switch typed {
        case .float: return typed
        case .integer(let digits): if let value = Double(digits) { return .float(value) }
        case .string(let string): if let value = Double(string.trimmingCharacters(in: .whitespaces)) { return .float(value) }
        default: break
        }
        throw GemArgumentsError(path: path, reason: "a !!float that is not a number")
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
                JSONString.append(key, to: &output)
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
            switch try value(of: scalar, tag: tag, path: path) {
            case .null: output.append("null")
            case .bool(let value): output.append(value ? "true" : "false")
            case .integer(let digits): output.append(digits)
            case .float(let value):
                guard value.isFinite else { throw GemArgumentsError(path: path, reason: "an infinite or NaN float has no JSON form") }
                output.append(PsychScalar.rubyText(value))
            case .time(let text): JSONString.append(iso8601(text), to: &output)
            case .date(let text), .symbol(let text), .string(let text): JSONString.append(text, to: &output)
            }
        case .alias:
            // Yams resolves aliases while composing; one left over is a reference it could not resolve.
            throw GemArgumentsError(path: path, reason: "a YAML alias that refers to nothing")
        }
    }

    /// A key's text, as Ruby's `to_json` writes a key (`to_s`): symbols lose their colon, numbers are their
    /// digits, nil is empty; times and dates stay as written.
    private static func key(_ node: Node, path: String) throws(GemArgumentsError) -> String {
        guard case .scalar(let scalar) = node else {
            throw GemArgumentsError(path: path, reason: "a key is \(kind(of: node)); JSON keys are strings")
        }
        let tag = node.tag.description
        if tag == plainTag.rawValue && scalar.string == "<<" {
            throw GemArgumentsError(path: path, reason: "a YAML merge key (<<), which the gem's YAML never has")
        }
        if tag.hasPrefix("!ruby/") && !tag.hasPrefix("!ruby/sym") && !tag.hasPrefix("!ruby/string") {
            throw GemArgumentsError(path: path, reason: "a key is a Ruby object (\(tag)); JSON keys are strings")
        }
        switch try value(of: scalar, tag: tag, path: path) {
        case .null: return ""
        case .bool(let value): return value ? "true" : "false"
        case .integer(let digits): return digits
        case .float(let value): return PsychScalar.rubyText(value)
        case .time(let text), .date(let text), .symbol(let text), .string(let text): return text
        }
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

    private static func kind(of value: PsychScalar) -> String {
        switch value {
        case .null: "nil"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .float: "a float"
        case .time: "a time"
        case .date: "a date"
        case .symbol: "a symbol"
        case .string: "a string"
        }
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
