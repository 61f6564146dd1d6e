import AsyncTask
import Foundation
import PostgresClient
import TestSupport
import Testing

/// `GemTableAdoption` against real PostgreSQL: a table as ActiveRecord creates it from the async_task gem's
/// migration, filled in the gem's format. (RailsClusterTests does the same with real Ruby and workers.)
@Suite("Adopting the async_task gem's table")
struct AdoptionTests {
    /// The DDL of the gem's `create_async_task_attempts` migration on PostgreSQL. It is an
    /// `ActiveRecord::Migration[5.1]`, so every Rails from 5.1 on (checked with 6.1) creates a bigserial id and
    /// timestamps without precision, `t.datetime` and `t.timestamps` alike. A migration run as `[5.0]` or older
    /// creates a serial (integer) id: `gemTable(id: "serial")`.
    static func gemTable(id: String = "bigserial") -> String {
        """
        CREATE TABLE async_task_attempts (
            id \(id) PRIMARY KEY, lock_version integer DEFAULT 0 NOT NULL, idempotence_token character varying,
            status character varying NOT NULL, target character varying NOT NULL, method_name character varying NOT NULL,
            method_args text, encryptor character varying NOT NULL, num_attempts integer DEFAULT 0 NOT NULL,
            scheduled_at timestamp without time zone, completed_at timestamp without time zone,
            created_at timestamp without time zone NOT NULL, updated_at timestamp without time zone NOT NULL);
        CREATE INDEX index_async_task_attempts_on_status ON async_task_attempts (status);
        CREATE UNIQUE INDEX index_async_tasks_on_target_method_name_and_idempotence_token ON async_task_attempts (target, method_name, idempotence_token);
        CREATE INDEX index_async_task_attempts_on_scheduled_at ON async_task_attempts (scheduled_at);
        CREATE INDEX index_async_task_attempts_on_completed_at ON async_task_attempts (completed_at);
        CREATE INDEX index_async_task_attempts_on_created_at ON async_task_attempts (created_at);
        CREATE INDEX index_async_task_attempts_on_updated_at ON async_task_attempts (updated_at);
        """
    }
    // As ActiveRecord binds them on a text column: untyped text parameters, UTC times without a zone.
    static let gemInsert = PostgresStatement(
        name: "gem_insert",
        sql: """
            INSERT INTO async_task_attempts (status, target, method_name, method_args, encryptor, num_attempts, idempotence_token,
                                             scheduled_at, completed_at, created_at, updated_at)
            VALUES ($1, 'OrderClient', 'fulfill', $2, $3, $4, $5, $6::timestamp, $7::timestamp, '2026-12-01 10:00:00', '2026-12-01 10:05:00')
            RETURNING id
            """, isPrepared: false)
    static let row = PostgresStatement(
        name: "adopted_row",
        sql: """
            SELECT status, method_args, coalesce(encryptor, '') AS encryptor, num_attempts, lock_version, coalesce(max_attempts, 0) AS max_attempts,
                   coalesce(to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') AS scheduled_at,
                   coalesce(to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') AS completed_at,
                   CASE WHEN available_at = 'infinity' THEN 'never' WHEN available_at <= now() THEN 'due' ELSE 'later' END AS due
            FROM async_task_attempts WHERE id = $1
            """, isPrepared: false)
    static let checksum = PostgresStatement(
        name: "table_checksum",
        sql: """
            SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) || (SELECT string_agg(attname || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
                   FROM pg_attribute WHERE attrelid = 'async_task_attempts'::regclass AND attnum > 0) AS sum
            FROM async_task_attempts t
            """, isPrepared: false)

    func yaml(_ inner: String) -> String {
        "--- |\n" + inner.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") + "\n"
    }

    @discardableResult
    func insert(
        _ connection: PostgresConnection, status: String = "pending", args: String?, encryptor: String = GemArgumentsDecoder.nullEncryptor,
        tries: Int32 = 0, token: String? = nil, scheduledAt: String? = nil, completedAt: String? = nil
    ) async throws -> Int64 {
        try await connection.query(Self.gemInsert, [status, args, encryptor, tries, token, scheduledAt, completedAt]).single().decode(
            Int64.self, "id")
    }

    func withGemTable(id: String = "bigserial", _ body: (TestDatabase, PostgresConnection) async throws -> Void) async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                try await connection.execute(script: Self.gemTable(id: id), name: "gem_table")
                try await body(database, connection)
            }
        }
    }

    @Test("plain migrate stops on the gem's table naming it and --adopt; a table that is neither stops naming the differences; nothing changes")
    func refusesUnadopted() async throws {
        try await withGemTable { _, connection in
            try await insert(connection, args: yaml("---\n:order_number: 1"))
            let before = try await connection.query(Self.checksum).single().decode(String.self, "sum")
            #expect(try await GemTableAdoption.inspect(on: connection) == .gem)
            let error = try await #require(throws: GemTableAdoptionError.self) { try await Migrator().migrate(on: connection) }
            #expect(
                error.description.contains("async_task_attempts was created by the async_task gem") && error.description.contains("migrate --adopt"))
            #expect(try await connection.query(Self.checksum).single().decode(String.self, "sum") == before)
        }
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try await connection.execute(
                    script: "CREATE TABLE async_task_attempts (id bigint PRIMARY KEY, payload jsonb, status text NOT NULL, owner text NOT NULL)",
                    name: "foreign")
                for attempt in 0..<2 {
                    let error = try await #require(throws: GemTableAdoptionError.self) {
                        if attempt == 0 {
                            try await Migrator().migrate(on: connection)
                        } else {
                            _ = try await GemTableAdoption().adopt(on: connection)
                        }
                    }
                    #expect(error.description.contains("neither the async_task gem's table nor AsyncTask's"))
                    #expect(
                        error.description.contains("column lock_version is missing") && error.description.contains("extra column owner is NOT NULL"))
                }
                #expect(
                    try await connection.query(
                        PostgresStatement(
                            name: "cols",
                            sql: "SELECT count(*) AS n FROM pg_attribute WHERE attrelid = 'async_task_attempts'::regclass AND attnum > 0")
                    ).single().decode(Int.self, "n") == 4)
            }
        }
    }

    @Test(
        "dry run changes nothing; adopt keeps every row: pending keep tries and schedule, finished keep status and time, YAML becomes JSON, the rest is reported"
    )
    func adoptsRows() async throws {
        try await withGemTable { _, connection in
            let plain = try await insert(
                connection, args: yaml("---\n:customer_token: c_1\n:order_number: 1\n:at: 2026-12-02 01:15:56.500000000 Z\n:s: :new"),
                token: "order-1")
            let retried = try await insert(connection, args: yaml("---\n:order_number: 2"), tries: 3)
            // The gem never gives up: rows it tried as often as a target's default max_attempts, and more.
            let exhausted = try await insert(connection, args: yaml("---\n:order_number: 6"), tries: 12)
            let long = try await insert(connection, args: yaml("---\n:order_number: 7"), tries: 40)
            let finishedTried = try await insert(
                connection, status: "failed", args: yaml("---\n:order_number: 8"), tries: 12, completedAt: "2026-12-01 11:00:00")
            let later = try await insert(connection, args: yaml("---\n:order_number: 3"), scheduledAt: "2099-01-01 00:00:00")
            let done = try await insert(connection, status: "succeeded", args: yaml("---\n:order_number: 4"), completedAt: "2026-12-01 11:00:00")
            let expiredNoTime = try await insert(connection, status: "expired", args: yaml("---\n:order_number: 5"))
            let none = try await insert(connection, args: nil)
            let object = try await insert(connection, args: yaml("---\n:amount: !ruby/object:BigDecimal 18:0.125e2"))
            let vault = try await insert(connection, args: "opaque ciphertext", encryptor: "AppVault::Sealer")
            let before = try await connection.query(Self.checksum).single().decode(String.self, "sum")

            let plan = try await GemTableAdoption(batchSize: 3).plan(on: connection)
            #expect(try await connection.query(Self.checksum).single().decode(String.self, "sum") == before)
            #expect(plan.totalRows == 11)
            #expect(plan.undecodable.map(\.id) == [object] && plan.undecodable[0].reason.contains("amount"))
            #expect(
                plan.unsupportedEncryptors.map { "\($0.encryptor) \($0.rows) \($0.pending) \($0.exampleID)" } == ["AppVault::Sealer 1 1 \(vault)"])
            #expect(plan.changes.contains { $0.summary.hasPrefix("rewrite the gem's") && $0.rows == 8 })
            #expect(
                plan.changes.contains {
                    $0.summary.hasPrefix("pending rows the gem already tried get max_attempts = num_attempts + 12") && $0.rows == 3
                }, "\(plan.changes.map(\.summary))")

            let (adopted, applied) = try await GemTableAdoption(batchSize: 3).adopt(on: connection)
            // The same plan, but for the migrations table, which the migrator creates before the adoption runs.
            #expect(plan.changes.first?.summary == "create async_task_schema_migrations")
            #expect(adopted?.changes == Array(plan.changes.dropFirst()) && adopted?.undecodable == plan.undecodable)
            #expect(applied == Schema.migrations.map(\.version))
            #expect(try await Migrator().migrate(on: connection) == [])
            #expect(try await GemTableAdoption.inspect(on: connection) == .cluster)

            func row(_ id: Int64) async throws -> PostgresRow { try await connection.query(Self.row, [id]).single() }
            var r = try await row(plain)
            #expect(
                try r.decode(String.self, "method_args")
                    == #"{"customer_token":"c_1","order_number":1,"at":"2026-12-02T01:15:56.500000000Z","s":"new"}"#)
            #expect(try r.decode(String.self, "encryptor") == "" && r.decode(String.self, "due") == "due")
            r = try await row(retried)
            #expect(try r.decode(Int.self, "num_attempts") == 3 && r.decode(String.self, "due") == "due")
            // The gem's tries are history: each tried pending row gets a fresh 12 on top of them; others keep NULL
            // (their target's max_attempts), finished rows are left alone.
            #expect(try r.decode(Int.self, "max_attempts") == 15)
            r = try await row(exhausted)
            #expect(try r.decode(Int.self, "num_attempts") == 12 && r.decode(Int.self, "max_attempts") == 24 && r.decode(String.self, "due") == "due")
            #expect(try await row(long).decode(Int.self, "max_attempts") == 52)
            #expect(try await row(finishedTried).decode(Int.self, "max_attempts") == 0)
            #expect(try await row(plain).decode(Int.self, "max_attempts") == 0)
            r = try await row(later)
            #expect(try r.decode(String.self, "scheduled_at") == "2099-01-01 00:00:00" && r.decode(String.self, "due") == "later")
            r = try await row(done)
            #expect(try r.decode(String.self, "status") == "succeeded" && r.decode(String.self, "completed_at") == "2026-12-01 11:00:00")
            r = try await row(expiredNoTime)
            #expect(try r.decode(String.self, "status") == "expired" && r.decode(String.self, "completed_at") == "2026-12-01 10:05:00")
            r = try await row(none)
            #expect(try r.decode(String.self, "method_args") == "{}" && r.decode(String.self, "encryptor") == "")
            r = try await row(object)
            #expect(
                try r.decode(String.self, "method_args").contains("!ruby/object:BigDecimal")
                    && r.decode(String.self, "encryptor") == GemArgumentsDecoder.nullEncryptor)
            r = try await row(vault)
            #expect(try r.decode(String.self, "method_args") == "opaque ciphertext" && r.decode(String.self, "due") == "never")

            // After adoption: the unchanged gem's insert (text), a plain-SQL producer (JSON), and a bad one.
            let gemRow = try await insert(connection, args: yaml("---\n:order_number: 9"))
            #expect(try await row(gemRow).decode(String.self, "encryptor") == GemArgumentsDecoder.nullEncryptor)
            let vaultRow = try await insert(connection, args: "more ciphertext", encryptor: "AppVault::Sealer")
            #expect(try await row(vaultRow).decode(String.self, "due") == "never")
            let emptyRow = try await insert(connection, args: nil)
            #expect(try await row(emptyRow).decode(String.self, "method_args") == "{}")
            try await connection.query(
                PostgresStatement(
                    name: "sql_producer",
                    sql:
                        #"INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '{"order_number":10}')"#
                ))
            let bad = try await #require(throws: PostgresError.self) {
                try await connection.query(
                    PostgresStatement(
                        name: "bad_producer",
                        sql: "INSERT INTO async_task_attempts (target, method_name, method_args) VALUES ('OrderClient', 'fulfill', '[1]')"))
            }
            #expect(bad.message.contains("async_task_attempts_method_args_check"))

            // Writes ActiveRecord did not make move lock_version on; a finished row holds no lease.
            let lockBefore = try await row(plain).decode(Int.self, "lock_version")
            try await connection.query(
                PostgresStatement(name: "lease", sql: "UPDATE async_task_attempts SET locked_by = gen_random_uuid() WHERE id = $1"), [plain])
            try await connection.query(
                PostgresStatement(
                    name: "gem_expire",
                    sql: "UPDATE async_task_attempts SET status = 'expired', completed_at = now(), lock_version = lock_version + 1 WHERE id = $1"),
                [plain])
            #expect(try await row(plain).decode(Int.self, "lock_version") == lockBefore + 2)
            #expect(
                try await connection.query(
                    PostgresStatement(name: "lease_of", sql: "SELECT locked_by IS NULL AS free FROM async_task_attempts WHERE id = $1"), [plain]
                ).single().decode(Bool.self, "free"))
        }
    }

    @Test("rows adoption cannot take (an unknown status, an encryptor that is no Ruby module) stop it naming value and row; nothing changes")
    func refusesBadRows() async throws {
        try await withGemTable { _, connection in
            let running = try await insert(connection, status: "running", args: yaml("---\n:a: 1"))
            let odd = try await insert(connection, args: "x", encryptor: "rot13")
            let before = try await connection.query(Self.checksum).single().decode(String.self, "sum")
            let error = try await #require(throws: GemTableAdoptionError.self) { _ = try await GemTableAdoption().adopt(on: connection) }
            #expect(error.description.contains("status 'running' (e.g. id \(running))"))
            #expect(error.description.contains("encryptor 'rot13' (e.g. id \(odd))"))
            #expect(try await connection.query(Self.checksum).single().decode(String.self, "sum") == before)
            #expect(try await connection.query(Migrator.tableExistsForTests).single().decode(Bool.self, "present") == false)
        }
    }

    @Test(
        "a gem table with an integer id (its migration run as Migration[5.0] or older) gets a bigint id and a bigint sequence: new rows go past id 2147483647"
    )
    func adoptsIntegerID() async throws {
        try await withGemTable(id: "serial") { _, connection in
            let first = try await insert(connection, args: yaml("---\n:order_number: 1"))
            let plan = try await GemTableAdoption().plan(on: connection)
            #expect(
                plan.changes.contains { $0.summary.hasPrefix("id's sequence async_task_attempts_id_seq: integer → bigint") },
                "\(plan.changes.map(\.summary))")
            _ = try await GemTableAdoption().adopt(on: connection)
            let types = PostgresStatement(
                name: "id_types",
                sql: """
                    SELECT format_type(a.atttypid, a.atttypmod) AS column_type, format_type(s.seqtypid, NULL) AS sequence_type, s.seqmax::text AS max
                    FROM pg_attribute a, pg_sequence s
                    WHERE a.attrelid = 'async_task_attempts'::regclass AND a.attname = 'id'
                      AND s.seqrelid = pg_get_serial_sequence('async_task_attempts', 'id')::regclass
                    """, isPrepared: false)
            let row = try await connection.query(types).single()
            #expect(try row.decode(String.self, "column_type") == "bigint" && row.decode(String.self, "sequence_type") == "bigint")
            #expect(try row.decode(String.self, "max") == "9223372036854775807")
            #expect(try await connection.query(Self.row, [first]).single().decode(String.self, "method_args") == #"{"order_number":1}"#)
            try await connection.query(
                PostgresStatement(
                    name: "near_the_top", sql: "SELECT setval(pg_get_serial_sequence('async_task_attempts', 'id'), 2147483647)", isPrepared: false))
            // The unchanged gem's insert after the adoption, past integer's range.
            #expect(try await insert(connection, args: yaml("---\n:order_number: 2")) == 2_147_483_648)
        }
    }

    static let catalog = PostgresStatement(
        name: "catalog",
        sql: """
            SELECT 'column ' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS item
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'async_task_attempts'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND attname NOT IN ('id', 'method_args', 'lock_version')
            UNION ALL SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'async_task_attempts'::regclass AND NOT indisprimary
            UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = 'async_task_attempts'::regclass AND contype <> 'p' AND conname <> 'async_task_attempts_method_args_check'
            UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = 'async_task_attempts'::regclass AND NOT tgisinternal
                AND tgname NOT IN ('async_task_attempts_unchanged_gem_insert', 'async_task_attempts_gem_lock_version')
            UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'async_task_%' AND relkind = 'r'
            ORDER BY 1
            """, isPrepared: false)

    @Test("the adopted table is a fresh one's twin except id's sequence, method_args text, lock_version and its two triggers")
    func adoptedMatchesFresh() async throws {
        try await withGemTable { _, adoptedConnection in
            _ = try await GemTableAdoption().adopt(on: adoptedConnection)
            let adopted = try await adoptedConnection.query(Self.catalog).map { row throws(PostgresError) in try row.decode(String.self, "item") }
            try await TestDatabase.with { fresh in
                try await fresh.withConnection { connection in
                    try await Migrator().migrate(on: connection)
                    let expected = try await connection.query(Self.catalog).map { row throws(PostgresError) in try row.decode(String.self, "item") }
                    #expect(adopted == expected)
                }
            }
        }
    }
}

extension Migrator {
    /// Whether `async_task_schema_migrations` exists (tests check that a refused adoption created nothing).
    static let tableExistsForTests = PostgresStatement(
        name: "migrations_table_exists_test", sql: "SELECT to_regclass('async_task_schema_migrations') IS NOT NULL AS present")
}
