import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("COPY … FROM STDIN")
struct CopyTests {
    static let createTable = """
        CREATE TABLE copied (id bigint PRIMARY KEY, label text, payload jsonb, at timestamptz, raw bytea, n smallint CHECK (n >= 0))
        """
    static let copy = PostgresStatement(name: "copy_rows", sql: "COPY copied (id, label, payload, at, raw, n) FROM STDIN", isPrepared: false)
    static let all = PostgresStatement(name: "all_copied", sql: "SELECT id, label, payload::text AS payload, at, raw, n FROM copied ORDER BY id")
    static let count = PostgresStatement(name: "count_copied", sql: "SELECT count(*) AS n FROM copied")

    @Test("values round-trip: NULLs, tabs, newlines, carriage returns, backslashes, \\N text, Unicode, bytea, timestamps")
    func roundTrip() async throws {
        let labels: [String?] = ["plain", "tab\there", "new\nline", "cr\rlf\r\n", #"back\slash \N \\"#, "\\N", "héllo 🌍", nil, ""]
        let at = Date(timeIntervalSince1970: 1_795_955_696.789012)
        var rows = PostgresCopyRows()
        for (index, label) in labels.enumerated() {
            try rows.append([
                Int64(index), label, PostgresBind.jsonb(Data(#"{"s":"a\tb\\c","i":\#(index)}"#.utf8)), at, Data([0, 9, 10, 92, 255]), Int16(index),
            ])
        }
        #expect(rows.count == labels.count)
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                #expect(try await connection.copy(Self.copy, rows: rows) == labels.count)
                let stored = try await connection.query(Self.all)
                #expect(stored.count == labels.count)
                for (index, row) in stored.enumerated() {
                    #expect(try row.decode(Int64.self, "id") == Int64(index))
                    #expect(try row.decode(String?.self, "label") == labels[index])
                    #expect(try row.decode(String.self, "payload") == #"{"i": \#(index), "s": "a\tb\\c"}"#)
                    #expect(abs(try row.decode(Date.self, "at").timeIntervalSince(at)) < 0.000_002)
                    #expect(try row.decode(Data.self, "raw") == Data([0, 9, 10, 92, 255]))
                    #expect(try row.decode(Int16.self, "n") == Int16(index))
                }
            }
        }
    }

    @Test("a NUL byte or a row of another width is refused before sending, naming the row; nothing of it is kept")
    func refusesBadRows() throws {
        var rows = PostgresCopyRows()
        try rows.append([Int64(1), "ok"])
        let nul = #expect(throws: PostgresCopyError.self) { try rows.append([Int64(2), "bad\u{0}byte"]) }
        #expect(nul?.row == 2)
        #expect(nul?.description.contains("NUL") == true)
        let width = #expect(throws: PostgresCopyError.self) { try rows.append([Int64(2)]) }
        #expect(width?.description.contains("has 1 values; the first row had 2") == true)
        #expect(rows.count == 1)
        #expect(String(decoding: rows.bytes, as: UTF8.self) == "1\tok\n")
    }

    @Test("a constraint violation fails the COPY naming the line, inserts nothing, and the connection stays usable")
    func serverErrors() async throws {
        var rows = PostgresCopyRows()
        try rows.append([Int64(1), "fine", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(1)])
        try rows.append([Int64(2), "negative", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(-1)])
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                let error = await #expect(throws: PostgresError.self) { try await connection.copy(Self.copy, rows: rows) }
                #expect(error?.sqlState == SQLState(rawValue: "23514"))
                #expect(error?.queryName == "copy_rows")
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
                // Not a COPY FROM STDIN: refused, and the connection still answers.
                let notCopy = await #expect(throws: PostgresError.self) {
                    try await connection.copy(PostgresStatement(name: "not_copy", sql: "SELECT 1", isPrepared: false), rows: rows)
                }
                #expect(notCopy?.description.contains("COPY") == true)
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
            }
        }
    }

    @Test("COPY joins the caller's transaction: a rollback removes the rows")
    func transactional() async throws {
        struct Abort: Error {}
        var rows = PostgresCopyRows()
        for id in 1...1000 { try rows.append([Int64(id), "row \(id)", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(0)]) }
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                await #expect(throws: Abort.self) {
                    try await connection.withTransaction { connection in
                        #expect(try await connection.copy(Self.copy, rows: rows) == 1000)
                        throw Abort()
                    }
                }
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
                try await connection.withTransaction { try await $0.copy(Self.copy, rows: rows) }
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 1000)
            }
        }
    }

    @Test("rows made while streaming: several 64 KiB chunks arrive whole; a row that cannot be encoded aborts the COPY naming it")
    func streamedRows() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.createTable, name: "create")
                // About 2 MiB: 32 chunks, with tabs, newlines and backslashes straddling the chunk edges.
                let label = String(repeating: "x\t\\\n", count: 50)
                let inserted = try await connection.copy(Self.copy, count: 10_000) { index in
                    [Int64(index), "\(index) \(label)", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(index % 100)]
                }
                #expect(inserted == 10_000)
                let check = PostgresStatement(
                    name: "check_streamed",
                    sql: """
                        SELECT count(*) AS n, count(*) FILTER (WHERE label = id || ' ' || $1) AS intact FROM copied
                        """)
                let row = try await connection.query(check, [label]).single()
                #expect(try row.decode(Int.self, "n") == 10_000)
                #expect(try row.decode(Int.self, "intact") == 10_000)

                try await connection.execute(script: "TRUNCATE copied", name: "truncate")
                let error = await #expect(throws: PostgresError.self) {
                    try await connection.copy(Self.copy, count: 5_000) { index in
                        [Int64(index), index == 4_321 ? "bad\u{0}" : "ok", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(0)]
                    }
                }
                #expect(error?.sqlState == .badCopyFileFormat)
                #expect(error?.description.contains("row 4322") == true)
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
                let width = await #expect(throws: PostgresError.self) {
                    try await connection.copy(Self.copy, count: 3) { index in
                        index == 2 ? [Int64(index)] : [Int64(index), "ok", PostgresBind.null, PostgresBind.null, PostgresBind.null, Int16(0)]
                    }
                }
                #expect(width?.description.contains("row 3 has 1 values; the first row had 6") == true)
                #expect(try await connection.query(Self.count).single().decode(Int.self, "n") == 0)
            }
        }
    }
}
