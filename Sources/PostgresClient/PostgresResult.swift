import CLibPQ

/// Owns one `PGresult` and frees it when the last reference goes.
// A PGresult is immutable once libpq returns it, and libpq documents that reading one from several threads is
// safe; the only mutation is PQclear, done once in deinit when no reference remains.
final class PostgresResult: @unchecked Sendable {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQclear(handle)
    }

    var rowCount: Int { Int(PQntuples(handle)) }
    var columnCount: Int { Int(PQnfields(handle)) }

    func columnName(_ column: Int) -> String {
        PQfname(handle, Int32(column)).map { String(cString: $0) } ?? "?column?"
    }

    func columnOID(_ column: Int) -> UInt32 {
        PQftype(handle, Int32(column))
    }

    /// Rows changed by an INSERT/UPDATE/DELETE/COPY, from the command tag.
    var affectedRows: Int {
        guard let tuples = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    func cell(row: Int, column: Int, name: String) -> PostgresCell {
        let oid = PQftype(handle, Int32(column))
        if PQgetisnull(handle, Int32(row), Int32(column)) == 1 {
            return PostgresCell(columnName: name, oid: oid, bytes: nil)
        }
        let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
        guard let value = PQgetvalue(handle, Int32(row), Int32(column)) else {
            return PostgresCell(columnName: name, oid: oid, bytes: nil)
        }
        let bytes = value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        return PostgresCell(columnName: name, oid: oid, bytes: bytes)
    }
}
