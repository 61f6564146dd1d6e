import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("Decoding and binding values")
struct DecodingTests {
    static let allTypes = PostgresStatement(
        name: "all_types",
        sql: """
            SELECT 42::integer AS i4, 9007199254740993::bigint AS i8, 7::smallint AS i2, true AS b, 'héllo'::text AS t,
                   'v'::varchar AS v, 2.5::float8 AS f8, 1.5::float4 AS f4,
                   '2026-11-29 12:34:56.789012+00'::timestamptz AS ts, '\\x00ff10'::bytea AS bin,
                   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '{"a":[1,2]}'::json AS j, '{"b": 1}'::jsonb AS jb,
                   ARRAY[1, 2, 3]::bigint[] AS ai8, ARRAY['x', 'y,"z"', NULL]::text[] AS at, '{}'::bigint[] AS empty,
                   NULL::text AS nothing
            """)

    @Test("every supported column type decodes to its Swift type")
    func decodesColumnTypes() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let row = try await connection.query(Self.allTypes).single()
                #expect(try row.decode(Int.self, "i4") == 42)
                #expect(try row.decode(Int64.self, "i8") == 9_007_199_254_740_993)
                #expect(try row.decode(Int16.self, "i2") == 7)
                #expect(try row.decode(Bool.self, "b") == true)
                #expect(try row.decode(String.self, "t") == "héllo")
                #expect(try row.decode(String.self, "v") == "v")
                #expect(try row.decode(Double.self, "f8") == 2.5)
                #expect(try row.decode(Double.self, "f4") == 1.5)
                let date = try row.decode(Date.self, "ts")
                #expect(abs(date.timeIntervalSince1970 - 1_795_955_696.789012) < 0.000_002)
                #expect(try row.decode(Data.self, "bin") == Data([0x00, 0xFF, 0x10]))
                #expect(try row.decode(UUID.self, "u") == UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"))
                #expect(try row.decode(String.self, "j") == #"{"a":[1,2]}"#)
                #expect(try row.decode(String.self, "jb") == #"{"b": 1}"#)
                #expect(try row.decode(Data.self, "jb") == Data(#"{"b": 1}"#.utf8))
                #expect(try row.decode([Int64].self, "ai8") == [1, 2, 3])
                #expect(try row.decode([String?].self, "at") == ["x", #"y,"z""#, nil])
                #expect(try row.decode([Int64].self, "empty") == [])
                #expect(try row.decode(String?.self, "nothing") == nil)
            }
        }
    }

    static let echo = PostgresStatement(
        name: "echo_binds",
        sql: """
            SELECT $1::bigint AS i, $2::boolean AS b, $3::text AS t, $4::float8 AS f, $5::timestamptz AS ts, $6::bytea AS bin,
                   $7::uuid AS u, $8::jsonb AS jb, $9::bigint[] AS ai, $10::text[] AS at, $11::text AS n
            """)

    @Test("bound parameters round-trip without interpolation, including quotes, backslashes and SQL")
    func bindsRoundTrip() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let now = Date(timeIntervalSince1970: 1_764_000_000.123456)
                let uuid = UUID()
                let hostile = "'; DROP TABLE x; -- \\ \"quoted\" ☃"
                let row = try await connection.query(
                    Self.echo,
                    [
                        Int64.min + 1, false, hostile, -0.125, now, Data([0, 1, 2, 0, 255]), uuid,
                        PostgresBind.jsonb(Data(#"{"k":"v"}"#.utf8)), [Int64(5), -6], [hostile, "", "NULL"], String?.none,
                    ]
                ).single()
                #expect(try row.decode(Int64.self, "i") == Int64.min + 1)
                #expect(try row.decode(Bool.self, "b") == false)
                #expect(try row.decode(String.self, "t") == hostile)
                #expect(try row.decode(Double.self, "f") == -0.125)
                #expect(abs(try row.decode(Date.self, "ts").timeIntervalSince(now)) < 0.000_002)
                #expect(try row.decode(Data.self, "bin") == Data([0, 1, 2, 0, 255]))
                #expect(try row.decode(UUID.self, "u") == uuid)
                #expect(try row.decode(String.self, "jb") == #"{"k": "v"}"#)
                #expect(try row.decode([Int64].self, "ai") == [5, -6])
                #expect(try row.decode([String].self, "at") == [hostile, "", "NULL"])
                #expect(try row.decode(String?.self, "n") == nil)
            }
        }
    }

    @Test("a type mismatch names the column and both types")
    func typeMismatchNamesColumn() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let row = try await connection.query(PostgresStatement(name: "mismatch", sql: "SELECT 'x'::text AS label, NULL::bigint AS missing"))
                    .single()
                let mismatch = #expect(throws: PostgresError.self) { try row.decode(Int64.self, "label") }
                #expect(mismatch?.code == .decoding)
                #expect(mismatch?.message.contains("'label'") == true)
                #expect(mismatch?.message.contains("text") == true)
                let null = #expect(throws: PostgresError.self) { try row.decode(Int64.self, "missing") }
                #expect(null?.message.contains("'missing' is NULL") == true)
                let unknown = #expect(throws: PostgresError.self) { try row.decode(Int64.self, "nope") }
                #expect(unknown?.message.contains("no column 'nope'") == true)
            }
        }
    }

    @Test("a NUL byte in a text parameter is refused before it reaches the server")
    func nulByteRejected() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let error = await #expect(throws: PostgresError.self) {
                    try await connection.query(PostgresStatement(name: "nul", sql: "SELECT $1::text"), ["a\u{0}b"])
                }
                #expect(error?.message.contains("NUL byte") == true)
                #expect(error?.queryName == "nul")
                // The connection is still usable.
                let one = try await connection.query(PostgresStatement(name: "one", sql: "SELECT 1 AS one")).single().decode(Int.self, "one")
                #expect(one == 1)
            }
        }
    }
    static let arrayEcho = PostgresStatement(
        name: "echo_array_binds",
        sql: """
            SELECT $1::text[] AS t, $1::text[] IS NOT DISTINCT FROM ARRAY['a', NULL, 'NULL', '', '"q" \\ {x,y}', E'line\\n\\ttab', 'é😀']
                       AS t_same,
                   $2::boolean[]::text AS b, $3::integer[]::text AS i4, $4::smallint[]::text AS i2, $5::bigint[]::text AS i8,
                   $6::uuid[]::text AS u, $7::float8[]::text AS f, (($8::timestamptz[])[2] - ($8::timestamptz[])[1])::text AS span,
                   cardinality($9::text[]) AS none
            """)

    @Test("array binds of every element type arrive as the server reads them: NULLs, quotes, backslashes, braces, Unicode")
    func arrayBinds() async throws {
        let texts: [String?] = ["a", nil, "NULL", "", #""q" \ {x,y}"#, "line\n\ttab", "é😀"]
        let uuid = UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")!
        let start = Date(timeIntervalSince1970: 1_764_000_000.123456)
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let row = try await connection.query(
                    Self.arrayEcho,
                    [
                        texts, [true, false], [Int32(-1), 2], [Int16(7)], [Int64.min, Int64.max], [uuid], [-0.125, 2.5],
                        [start, start.addingTimeInterval(1.5)], [String](),
                    ]
                ).single()
                #expect(try row.decode([String?].self, "t") == texts)
                #expect(try row.decode(Bool.self, "t_same"))
                #expect(try row.decode(String.self, "b") == "{t,f}")
                #expect(try row.decode(String.self, "i4") == "{-1,2}")
                #expect(try row.decode(String.self, "i2") == "{7}")
                #expect(try row.decode(String.self, "i8") == "{-9223372036854775808,9223372036854775807}")
                #expect(try row.decode(String.self, "u") == "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}")
                #expect(try row.decode(String.self, "f") == "{-0.125,2.5}")
                #expect(try row.decode(String.self, "span") == "00:00:01.5")
                #expect(try row.decode(Int.self, "none") == 0)
            }
        }
    }
}
