import AsyncTask

extension AttemptView {
    /// Every field for `printFields`, with the CLI's timestamps.
    var fields: [(String, String)] { fields(time: OutputFormat.timestamp) }
}
