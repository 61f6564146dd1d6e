/// One field of a result row, as the server sent it in binary format, with the column's name and type for
/// error messages.
public struct PostgresCell: Sendable {
    /// The column's name.
    public let columnName: String
    /// The column's type OID.
    public let oid: UInt32
    /// The binary-format value, or nil for SQL NULL.
    public let bytes: [UInt8]?

    /// Creates a cell.
    public init(columnName: String, oid: UInt32, bytes: [UInt8]?) {
        self.columnName = columnName
        self.oid = oid
        self.bytes = bytes
    }

    /// The error for a value of the wrong PostgreSQL type.
    public func typeMismatch(_ swiftType: Any.Type) -> PostgresError {
        PostgresError(
            code: .decoding,
            message: "column '\(columnName)' is \(PostgresTypeOID.name(of: oid)), which does not decode as \(swiftType)"
        )
    }

    /// The error for malformed bytes.
    public func malformed(_ swiftType: Any.Type) -> PostgresError {
        PostgresError(code: .decoding, message: "column '\(columnName)' holds a malformed \(PostgresTypeOID.name(of: oid)) for \(swiftType)")
    }

    /// The bytes, or a decoding error naming the column when it is NULL.
    public func nonNullBytes(_ swiftType: Any.Type) throws(PostgresError) -> [UInt8] {
        guard let bytes else {
            throw PostgresError(code: .decoding, message: "column '\(columnName)' is NULL; decode it as \(swiftType)? instead")
        }
        return bytes
    }

    /// Reads a big-endian integer of `width` bytes at `offset`.
    func bigEndian(_ bytes: [UInt8], at offset: Int, width: Int) -> Int64 {
        var value: UInt64 = 0
        for index in offset..<(offset + width) { value = value << 8 | UInt64(bytes[index]) }
        // Sign-extend from `width` bytes.
        let shift = UInt64(64 - width * 8)
        return Int64(bitPattern: value << shift) >> Int64(shift)
    }
}
