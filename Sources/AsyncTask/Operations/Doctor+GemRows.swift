import AsyncTaskCore
import PostgresClient

extension Doctor {
    // Only adopted tables have the function (GemTableAdoption); elsewhere the check has nothing to look at.
    static let gemAdopted = PostgresStatement(
        name: "doctor_gem_adopted",
        sql: """
            SELECT to_regprocedure('async_task_gem_encryptor_unsupported(text)') IS NOT NULL AS adopted
            """)
    static let gemUnsupported = PostgresStatement(
        name: "doctor_gem_unsupported",
        sql: """
            SELECT encryptor, count(*) AS n, min(id) AS example FROM async_task_attempts
            WHERE status = 'pending' AND async_task_gem_encryptor_unsupported(encryptor)
            GROUP BY encryptor ORDER BY encryptor
            """)
    static let gemUndecodable = PostgresStatement(
        name: "doctor_gem_undecodable",
        sql: """
            SELECT count(*) AS n, min(id) AS example FROM async_task_attempts WHERE status = 'failed' AND last_error_kind = $1
            """)

    /// Rows of an adopted async_task gem table that never run: pending ones with an encryptor module the cluster
    /// cannot decrypt, and failed ones whose YAML arguments had no JSON form (`GemArgumentsDecoder`).
    func gemRowFindings(on connection: PostgresConnection) async throws -> [Finding] {
        guard try await connection.query(Self.gemAdopted).single().decode(Bool.self, "adopted") else { return [] }
        var findings: [Finding] = []
        for row in try await connection.query(Self.gemUnsupported) {
            let encryptor = try row.decode(String.self, "encryptor")
            findings.append(
                Finding(
                    check: "gem_encryptors", severity: .problem,
                    message:
                        "\(try row.decode(Int.self, "n")) pending attempt(s) were encrypted by the gem with \(encryptor) (e.g. attempt \(try row.decode(Int64.self, "example"))); nodes cannot decrypt them, so they are never sent: re-enqueue them from the application (decrypt with \(encryptor), create! with the cluster's encryptor), then `asynctask attempts expire` the old ones"
                ))
        }
        if findings.isEmpty {
            findings.append(
                Finding(check: "gem_encryptors", severity: .ok, message: "no pending attempt uses an encryptor the cluster cannot decrypt"))
        }
        let undecodable = try await connection.query(Self.gemUndecodable, [GemArgumentsDecoder.errorKind.rawValue]).single()
        let count = try undecodable.decode(Int.self, "n")
        if count > 0 {
            findings.append(
                Finding(
                    check: "gem_arguments", severity: .warning,
                    message:
                        "\(count) attempt(s) failed because their gem YAML arguments have no JSON form (e.g. attempt \(try undecodable.decode(Int64.self, "example")); `asynctask attempts show` gives the place and reason): fix method_args, then `asynctask attempts retry`"
                ))
        }
        return findings
    }
}
