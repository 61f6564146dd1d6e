import AsyncTaskCore
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
        let micros = Int64((timeIntervalSince1970 * 1_000_000).rounded())
        return .text(UTCTimestamp(microsecondsSinceEpoch: micros).postgresText, oid: PostgresTypeOID.timestamptz)
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
        // Written as bytes: an outcome flush sends a dozen arrays of hundreds of elements, and building them as
        // Strings, scalar by scalar, took a tenth of a worker's CPU in an unbatched drain.
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, element) in enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            element.appendArrayLiteralElement(to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return PostgresBind(oid: Element.arrayOID, bytes: bytes)
    }
}

/// A type that can be an element of an array parameter.
public protocol PostgresArrayElement: Sendable {
    /// The OID of the array type (`int8[]`, `text[]`, …).
    static var arrayOID: UInt32 { get }
    /// Appends the element's UTF-8 text as written inside an array literal.
    func appendArrayLiteralElement(to bytes: inout [UInt8])
}

extension PostgresArrayElement where Self: BinaryInteger {
    /// The number in decimal.
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(self).utf8)
    }
}

extension Int64: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int8Array }
}

extension Int: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int8Array }
}

extension Int32: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int4Array }
}

extension Int16: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.int2Array }
}

extension Bool: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.boolArray }
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(self ? UInt8(ascii: "t") : UInt8(ascii: "f"))
    }
}

extension String: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.textArray }
    /// Double-quoted, with `"` and `\` escaped by a backslash (every other byte, multi-byte UTF-8 included, as is:
    /// neither quote nor backslash occurs inside a multi-byte sequence).
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = self
        text.withUTF8 { Self.appendEscaped($0, to: &bytes) }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ text: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        for byte in text {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(byte)
        }
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static var arrayOID: UInt32 { Wrapped.arrayOID }
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        if let value = self {
            value.appendArrayLiteralElement(to: &bytes)
        } else {
            bytes.append(contentsOf: "NULL".utf8)
        }
    }
}

extension UUID: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.uuidArray }
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: uuidString.lowercased().utf8)
    }
}

extension Date: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.timestamptzArray }
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: postgresBind.bytes ?? [])
        bytes.append(UInt8(ascii: "\""))
    }
}

extension Double: PostgresArrayElement {
    public static var arrayOID: UInt32 { PostgresTypeOID.float8Array }
    public func appendArrayLiteralElement(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: String(self).utf8)
    }
}
