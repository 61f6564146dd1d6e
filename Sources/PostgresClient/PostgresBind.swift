public import Foundation

/// One bound parameter as libpq sends it: a type OID (0 lets the server infer it), a format, and the bytes
/// (nil for SQL NULL).
public struct PostgresBind: Sendable, Hashable {
    /// The parameter's type OID, or 0 to let the server infer it from the statement.
    public var oid: UInt32
    /// True for binary format (used for `bytea`), false for text.
    public var isBinary: Bool
    /// The encoded value, or nil for SQL NULL.
    public var bytes: [UInt8]?

    /// Creates a bind from its parts.
    public init(oid: UInt32, isBinary: Bool = false, bytes: [UInt8]?) {
        self.oid = oid
        self.isBinary = isBinary
        self.bytes = bytes
    }

    /// SQL NULL of an inferred type.
    public static let null = PostgresBind(oid: 0, bytes: nil)

    /// A text-format value of the given type.
    public static func text(_ text: String, oid: UInt32 = 0) -> PostgresBind {
        PostgresBind(oid: oid, bytes: Array(text.utf8))
    }

    /// A `jsonb` value from its UTF-8 JSON text.
    public static func jsonb(_ json: some Collection<UInt8>) -> PostgresBind {
        PostgresBind(oid: PostgresTypeOID.jsonb, bytes: Array(json))
    }
}

/// A Swift value that can be sent as a query parameter.
public protocol PostgresEncodable: Sendable {
    /// The value encoded for libpq.
    var postgresBind: PostgresBind { get }
}

extension PostgresBind: PostgresEncodable {
    public var postgresBind: PostgresBind { self }
}

extension Int: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresTypeOID.int8) }
}

extension Int64: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresTypeOID.int8) }
}

extension Int32: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresTypeOID.int4) }
}

extension Int16: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresTypeOID.int2) }
}

extension Bool: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(self ? "t" : "f", oid: PostgresTypeOID.bool) }
}

extension Double: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresTypeOID.float8) }
}

extension String: PostgresEncodable {
    /// Sent with an unspecified type so the server reads it as whatever the statement needs (text, jsonb,
    /// timestamptz, …), exactly as a quoted literal would be.
    public var postgresBind: PostgresBind { .text(self) }
}

extension UUID: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(uuidString.lowercased(), oid: PostgresTypeOID.uuid) }
}

extension Data: PostgresEncodable {
    /// Sent as `bytea` in binary format: no escaping, any byte allowed.
    public var postgresBind: PostgresBind { PostgresBind(oid: PostgresTypeOID.bytea, isBinary: true, bytes: Array(self)) }
}

extension Date: PostgresEncodable {
    /// Sent as `timestamptz` with microsecond precision, in UTC.
    public var postgresBind: PostgresBind {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = (micros / 1_000_000).rounded(.down)
        let fraction = Int(micros - seconds * 1_000_000)
        let text = PostgresTimestamp.format(epochSeconds: Int64(seconds), microseconds: fraction)
        return .text(text, oid: PostgresTypeOID.timestamptz)
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresBind: PostgresBind {
        switch self {
        case .some(let value): value.postgresBind
        case .none: .null
        }
    }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    /// Sent as a one-dimensional array literal (`{1,2,3}`, `{"a","b"}`), each element quoted and escaped.
    public var postgresBind: PostgresBind {
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            text += element.arrayLiteralElement
        }
        text += "}"
        return .text(text, oid: Element.arrayOID)
    }
}

/// A type that can be an element of an array parameter.
public protocol PostgresArrayElement: Sendable {
    /// The OID of the array type (`int8[]`, `text[]`, …).
    static var arrayOID: UInt32 { get }
    /// The element as written inside an array literal.
    var arrayLiteralElement: String { get }
}

extension Int64: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int8Array }
    public var arrayLiteralElement: String { String(self) }
}

extension Int: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int8Array }
    public var arrayLiteralElement: String { String(self) }
}

extension Int32: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int4Array }
    public var arrayLiteralElement: String { String(self) }
}

extension Int16: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int2Array }
    public var arrayLiteralElement: String { String(self) }
}

extension Bool: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.boolArray }
    public var arrayLiteralElement: String { self ? "t" : "f" }
}

extension String: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.textArray }
    public var arrayLiteralElement: String {
        var quoted = "\""
        for character in unicodeScalars {
            if character == "\"" || character == "\\" { quoted += "\\" }
            quoted.unicodeScalars.append(character)
        }
        return quoted + "\""
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static var arrayOID: UInt32 { Wrapped.arrayOID }
    public var arrayLiteralElement: String { self?.arrayLiteralElement ?? "NULL" }
}

extension UUID: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.uuidArray }
    public var arrayLiteralElement: String { uuidString.lowercased() }
}

extension Date: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.timestamptzArray }
    public var arrayLiteralElement: String {
        let text = String(decoding: postgresBind.bytes ?? [], as: UTF8.self)
        return "\"\(text)\""
    }
}

extension Double: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.float8Array }
    public var arrayLiteralElement: String { String(self) }
}
