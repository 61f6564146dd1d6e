import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("PostgresError: a terse description, the detail on request")
struct ErrorDescriptionTests {
    @Test("a server error's description names kind, SQLSTATE, condition, query and constraint, never its message")
    func serverErrorIsTerse() async throws {
        try await TestDatabase.with { database throws in
            try await database.withConnection { connection throws in
                let cast = await #expect(throws: PostgresError.self) {
                    try await connection.query("SELECT \("secret-value")::integer AS n", named: "bad_cast")
                }
                let error = try #require(cast)
                #expect(error.description == "PostgreSQL server 22P02 in query 'bad_cast': invalid_text_representation")
                #expect(error.message.contains("secret-value"), "the server's message is kept for whoever asks")
                #expect(error.descriptionWithMessage.hasPrefix("PostgreSQL server 22P02 in query 'bad_cast': invalid input syntax"))
                #expect(String(reflecting: error).contains("secret-value"))

                try await connection.execute(script: "CREATE TABLE items (id bigint PRIMARY KEY)", name: "create")
                try await connection.query("INSERT INTO items VALUES (\(Int64(1)))", named: "insert_item")
                let duplicate = try #require(
                    await #expect(throws: PostgresError.self) {
                        try await connection.query("INSERT INTO items VALUES (\(Int64(1)))", named: "insert_item")
                    })
                #expect(duplicate.description == "PostgreSQL server 23505 in query 'insert_item': unique_violation (constraint items_pkey)")
                #expect(duplicate.debugDescription.contains("DETAIL: Key (id)=(1) already exists."))
            }
        }
    }

    @Test("errors this client writes keep their message: it never quotes values")
    func clientErrorsKeepTheirMessage() {
        let closed = PostgresError(code: .connectionClosed, message: "the connection was closed", queryName: "ping")
        #expect(closed.description == "PostgreSQL connectionClosed in query 'ping': the connection was closed")
        let decoding = PostgresError(code: .decoding, message: "expected one row, got none")
        #expect(decoding.description == "PostgreSQL decoding: expected one row, got none")
        #expect(decoding.description == decoding.descriptionWithMessage)
    }
}
