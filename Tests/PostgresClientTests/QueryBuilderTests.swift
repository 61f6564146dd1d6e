import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("PostgresQuery: interpolated values become numbered binds")
struct QueryBuilderTests {
    @Test("interpolated values are $n binds in order; literal text and unsafeSQL are SQL")
    func numbering() {
        let table = "items"
        let query: PostgresQuery = "SELECT id FROM \(unsafeSQL: table) WHERE owner = \("ann") AND id > \(Int64(7))"
        #expect(query.sql == "SELECT id FROM items WHERE owner = $1 AND id > $2")
        #expect(query.binds == ["ann".postgresBind, Int64(7).postgresBind])
        #expect(query.description == query.sql)
    }

    @Test("appended and interpolated fragments renumber their binds where they land")
    func composition() {
        let owner: PostgresQuery = "owner = \("ann")"
        let since: PostgresQuery = "created_at >= \(Date(timeIntervalSince1970: 0))"
        var query: PostgresQuery = "SELECT id FROM items WHERE \(PostgresQuery.joined([owner, PostgresQuery(), since], separator: " AND "))"
        query += " AND id > \(Int64(3))"
        query = query + " LIMIT \(10)"
        #expect(query.sql == "SELECT id FROM items WHERE owner = $1 AND created_at >= $2 AND id > $3 LIMIT $4")
        #expect(query.binds.count == 4)
        #expect(query.binds[0] == "ann".postgresBind)
        #expect(query.binds[3] == 10.postgresBind)
        #expect(PostgresQuery.joined([PostgresQuery(), ""], separator: " AND ").isEmpty)
    }

    @Test("a value that looks like SQL travels as a bind and comes back unchanged")
    func valuesAreNeverSQL() async throws {
        let hostile = "x'); DROP TABLE items; --"
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: "CREATE TABLE items (id bigint PRIMARY KEY, label text)", name: "create")
                try await connection.query("INSERT INTO items (id, label) VALUES (\(Int64(1)), \(hostile))", named: "insert_item")
                let label = try await connection.query("SELECT label FROM items WHERE id = \(Int64(1))", named: "item_label")
                    .single().decode(String.self, "label")
                #expect(label == hostile)
            }
        }
    }

    @Test("an optional filter clause numbers its binds whichever criteria are set; prepared or not")
    func optionalCriteria() async throws {
        func select(owner: String?, minimumID: Int64?, limit: Int) -> PostgresQuery {
            var conditions: [PostgresQuery] = []
            if let owner { conditions.append("label = \(owner)") }
            if let minimumID { conditions.append("id >= \(minimumID)") }
            let condition = conditions.isEmpty ? "TRUE" : PostgresQuery.joined(conditions, separator: " AND ")
            return
                "SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM (SELECT id FROM items WHERE \(condition) ORDER BY id LIMIT \(limit)) s"
        }
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(
                    script:
                        "CREATE TABLE items (id bigint PRIMARY KEY, label text); INSERT INTO items SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 10) g",
                    name: "create")
                for prepared in [false, true] {
                    func ids(_ query: PostgresQuery) async throws -> [Int64] {
                        try await connection.query(query, named: "select_items", prepared: prepared).single().decode([Int64].self, "ids")
                    }
                    #expect(try await ids(select(owner: nil, minimumID: nil, limit: 3)) == [1, 2, 3])
                    #expect(try await ids(select(owner: "even", minimumID: nil, limit: 3)) == [2, 4, 6])
                    #expect(try await ids(select(owner: nil, minimumID: 8, limit: 5)) == [8, 9, 10])
                    #expect(try await ids(select(owner: "odd", minimumID: 4, limit: 2)) == [5, 7])
                    // The same text with other values reuses the prepared statement.
                    #expect(try await ids(select(owner: "even", minimumID: 5, limit: 1)) == [6])
                }
            }
        }
    }

    @Test("nil binds SQL NULL; arrays and optionals keep their types")
    func nullsAndArrays() async throws {
        let missing: String? = nil
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let row = try await connection.query(
                    "SELECT \(missing)::text IS NULL AS is_null, cardinality(\([Int64(1), 2, 3])) AS n, \(Optional("a")) AS a",
                    named: "binds"
                ).single()
                #expect(try row.decode(Bool.self, "is_null"))
                #expect(try row.decode(Int.self, "n") == 3)
                #expect(try row.decode(String.self, "a") == "a")
            }
        }
    }

    @Test("a failing query reports the name it was run under")
    func errorsNameTheQuery() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let error = await #expect(throws: PostgresError.self) {
                    try await connection.query("SELECT \("secret-value")::integer", named: "bad_cast")
                }
                #expect(error?.queryName == "bad_cast")
                #expect(error?.sqlState == .invalidTextRepresentation)
            }
        }
    }
}
