public import Foundation

/// A Swift type that a result column decodes to.
///
/// Decoding checks the column's PostgreSQL type: asking for an `Int64` from a `text` column is an error that
/// names the column, never a silent conversion.
public protocol PostgresDecodable: Sendable {
    /// Decodes the cell, throwing `PostgresError` with code `.decoding` when the type or value does not fit.
    init(from cell: PostgresCell) throws(PostgresError)
}

extension Int64: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(Int64.self)
        let width: Int
        switch cell.oid {
        case PostgresTypeOID.int8: width = 8
        case PostgresTypeOID.int4, PostgresTypeOID.oid: width = 4
        case PostgresTypeOID.int2: width = 2
        default: throw cell.typeMismatch(Int64.self)
        }
        guard bytes.count == width else { throw cell.malformed(Int64.self) }
        self =
            cell.oid == PostgresTypeOID.oid
            ? Int64(UInt32(truncatingIfNeeded: cell.bigEndian(bytes, at: 0, width: 4)))
            : cell.bigEndian(bytes, at: 0, width: width)
    }
}

extension Int: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        self = Int(try Int64(from: cell))
    }
}

extension Int32: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        guard cell.oid == PostgresTypeOID.int4 || cell.oid == PostgresTypeOID.int2 else { throw cell.typeMismatch(Int32.self) }
        self = Int32(try Int64(from: cell))
    }
}

extension Int16: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        guard cell.oid == PostgresTypeOID.int2 else { throw cell.typeMismatch(Int16.self) }
        self = Int16(try Int64(from: cell))
    }
}

extension Bool: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(Bool.self)
        guard cell.oid == PostgresTypeOID.bool else { throw cell.typeMismatch(Bool.self) }
        guard bytes.count == 1 else { throw cell.malformed(Bool.self) }
        self = bytes[0] != 0
    }
}

extension Double: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(Double.self)
        switch cell.oid {
        case PostgresTypeOID.float8:
            guard bytes.count == 8 else { throw cell.malformed(Double.self) }
            self = Double(bitPattern: UInt64(bitPattern: cell.bigEndian(bytes, at: 0, width: 8)))
        case PostgresTypeOID.float4:
            guard bytes.count == 4 else { throw cell.malformed(Double.self) }
            self = Double(Float(bitPattern: UInt32(truncatingIfNeeded: cell.bigEndian(bytes, at: 0, width: 4))))
        case PostgresTypeOID.int8, PostgresTypeOID.int4, PostgresTypeOID.int2:
            self = Double(try Int64(from: cell))
        default:
            throw cell.typeMismatch(Double.self)
        }
    }
}

extension String: PostgresDecodable {
    /// Decodes text-like columns (`text`, `varchar`, `char(n)`, `name`, `"char"`), `json`, `jsonb` (as its JSON
    /// text) and `uuid` (lowercase canonical form).
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(String.self)
        switch cell.oid {
        case PostgresTypeOID.text, PostgresTypeOID.varchar, PostgresTypeOID.bpchar, PostgresTypeOID.name,
            PostgresTypeOID.char, PostgresTypeOID.json, PostgresTypeOID.unknown:
            self = String(decoding: bytes, as: UTF8.self)
        case PostgresTypeOID.jsonb:
            guard bytes.first == 1 else { throw cell.malformed(String.self) }
            self = String(decoding: bytes.dropFirst(), as: UTF8.self)
        case PostgresTypeOID.uuid:
            self = try UUID(from: cell).uuidString.lowercased()
        default:
            throw cell.typeMismatch(String.self)
        }
    }
}

extension Data: PostgresDecodable {
    /// Decodes `bytea` as its bytes, and `json`/`jsonb`/`text` as their UTF-8 bytes (JSON as bytes, ready for
    /// `JSONDecoder`).
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(Data.self)
        switch cell.oid {
        case PostgresTypeOID.bytea, PostgresTypeOID.json, PostgresTypeOID.text, PostgresTypeOID.varchar:
            self = Data(bytes)
        case PostgresTypeOID.jsonb:
            guard bytes.first == 1 else { throw cell.malformed(Data.self) }
            self = Data(bytes.dropFirst())
        default:
            throw cell.typeMismatch(Data.self)
        }
    }
}

extension UUID: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        let b = try cell.nonNullBytes(UUID.self)
        guard cell.oid == PostgresTypeOID.uuid else { throw cell.typeMismatch(UUID.self) }
        guard b.count == 16 else { throw cell.malformed(UUID.self) }
        self = UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

extension Date: PostgresDecodable {
    /// Decodes `timestamptz` and `timestamp` (read as UTC) with microsecond precision; `infinity` and `-infinity`
    /// become `distantFuture` and `distantPast`.
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes(Date.self)
        switch cell.oid {
        case PostgresTypeOID.timestamptz, PostgresTypeOID.timestamp:
            guard bytes.count == 8 else { throw cell.malformed(Date.self) }
            let micros = cell.bigEndian(bytes, at: 0, width: 8)
            if micros == Int64.max {
                self = .distantFuture
                return
            }
            if micros == Int64.min {
                self = .distantPast
                return
            }
            let seconds = Double(PostgresTimestamp.postgresEpochOffset) + Double(micros) / 1_000_000
            self = Date(timeIntervalSince1970: seconds)
        case PostgresTypeOID.date:
            guard bytes.count == 4 else { throw cell.malformed(Date.self) }
            let days = cell.bigEndian(bytes, at: 0, width: 4)
            self = Date(timeIntervalSince1970: Double(PostgresTimestamp.postgresEpochOffset + days * 86_400))
        default:
            throw cell.typeMismatch(Date.self)
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(from cell: PostgresCell) throws(PostgresError) {
        self = cell.bytes == nil ? nil : try Wrapped(from: cell)
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// Decodes a one-dimensional array (or an empty one) whose element type decodes as `Element`.
    public init(from cell: PostgresCell) throws(PostgresError) {
        let bytes = try cell.nonNullBytes([Element].self)
        // Binary array layout: ndim int4, has-null int4, element oid int4, then per dimension (length int4,
        // lower bound int4), then per element (length int4, -1 for NULL; bytes).
        guard bytes.count >= 12 else { throw cell.malformed([Element].self) }
        let dimensions = cell.bigEndian(bytes, at: 0, width: 4)
        let elementOID = UInt32(truncatingIfNeeded: cell.bigEndian(bytes, at: 8, width: 4))
        guard PostgresTypeOID.isArray(cell.oid) else { throw cell.typeMismatch([Element].self) }
        if dimensions == 0 {
            self = []
            return
        }
        guard dimensions == 1, bytes.count >= 20 else { throw cell.malformed([Element].self) }
        let count = Int(cell.bigEndian(bytes, at: 12, width: 4))
        var offset = 20
        var result: [Element] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            guard offset + 4 <= bytes.count else { throw cell.malformed([Element].self) }
            let length = Int(cell.bigEndian(bytes, at: offset, width: 4))
            offset += 4
            var elementBytes: [UInt8]? = nil
            if length >= 0 {
                guard offset + length <= bytes.count else { throw cell.malformed([Element].self) }
                elementBytes = [UInt8](bytes[offset..<(offset + length)])
                offset += length
            }
            let element = PostgresCell(columnName: cell.columnName, oid: elementOID, bytes: elementBytes)
            result.append(try Element(from: element))
        }
        self = result
    }
}
