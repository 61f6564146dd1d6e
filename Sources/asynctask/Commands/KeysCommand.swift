import ArgumentParser
import AsyncTask
import AsyncTaskWorker
import Foundation
import PostgresClient

/// `asynctask keys …`: encryption keys for `method_args` (DESIGN §6).
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate encryption keys and rotate pending attempts to the primary key.",
        subcommands: [Rotate.self, Generate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-encrypt pending attempts from older keys to the primary key, in short batches, while nodes run.",
            discussion: """
                Keys come from the config file's `encryption` section (and ASYNCTASK_* overrides). Rows that cannot \
                be decrypted (unknown key id, failed authentication) are left as they are and listed; the exit code \
                is then 1. Rows locked by a claim during every pass are counted as remaining: run again.
                """)

        @OptionGroup var database: DatabaseOptions

        @Option(name: .customLong("batch-size"), help: "Attempts re-encrypted per transaction.")
        var batchSize = 500

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 100000") }
        }

        func run() async throws {
            guard let keyRing = try await KeysCommand.keyRing(database) else {
                throw CLIFailure.badInput("no encryption keys configured: set encryption.primary and encryption.keys.<id> in the --config file")
            }
            let encryptor = AESGCMEncryptor(keyRing: keyRing)
            let rotation = KeyRotation(encryptor: encryptor, batchSize: batchSize)
            let summary = try await database.withConnection { connection in
                try await rotation.run(on: connection)
            }
            let target = AESGCMEncryptor.encryptorID(keyID: keyRing.primaryID)
            if json {
                try OutputFormat.printJSON(
                    RotationReport(
                        primary: target, rotated: summary.rotated, batches: summary.batches, remaining: summary.remaining,
                        failed: summary.failures.map { .init(id: $0.id, error: $0.error.description) }))
            } else {
                print("rotated \(summary.rotated) pending attempt(s) to \(target) in \(summary.batches) batch(es)")
                for failure in summary.failures { print("  attempt \(failure.id): \(failure.error)") }
                if !summary.failures.isEmpty { print("\(summary.failures.count) attempt(s) could not be decrypted and keep their old key") }
                if summary.remaining > 0 { print("\(summary.remaining) attempt(s) stayed locked and keep their old key: run again") }
            }
            if !summary.failures.isEmpty || summary.remaining > 0 {
                throw CLIFailure.runtime("\(summary.failures.count) attempt(s) not decryptable, \(summary.remaining) still on old keys")
            }
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random AES-256 key as base64 (a value for encryption.keys.<id>).")

        func run() async throws {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            print(Data(bytes).base64EncodedString())
        }
    }

    /// The key ring from `--config` (and ASYNCTASK_* overrides); nil when none is configured.
    static func keyRing(_ database: DatabaseOptions) async throws -> KeyRing? {
        do {
            return try await WorkerConfiguration.loadKeyRing(file: database.configFile)
        } catch {
            throw CLIFailure.badInput(error.description)
        }
    }
}

/// `keys rotate --json` output.
struct RotationReport: Encodable {
    struct Failed: Encodable {
        let id: Int64
        let error: String
    }

    let primary: String
    let rotated: Int
    let batches: Int
    let remaining: Int
    let failed: [Failed]
}
