import AsyncTask
import PostgresClient

/// A failure the CLI reports as one line on stderr with a documented exit code.
struct CLIFailure: Error {
    /// The line to print after `error: `.
    let message: String
    /// 1 for runtime failures, 2 for bad usage or input.
    let exitCode: Int32

    /// Bad usage or input: exit code 2.
    static func badInput(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 2) }
    /// A runtime failure: exit code 1.
    static func runtime(_ message: String) -> CLIFailure { CLIFailure(message: message, exitCode: 1) }

    /// One line for any error, never with passwords. A database error keeps the server's message (the user ran
    /// the command on their own data and needs the reason); it is the one place that message is printed.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as PostgresError: error.descriptionWithMessage
        case let error as AttemptActionError: error.description
        case let error as AttemptValidationError: error.description
        case let error as EncryptionError: error.description
        default: String(describing: error)
        }
    }
}
