extension Schema {
    /// How many tries `async_task_attempts.tries` keeps per attempt (the newest ones).
    ///
    /// Ten covers most of a retry sequence at the default `max_attempts` of 12 and every try of most attempts,
    /// while a failing attempt's history stays a few kilobytes (a failed try holds its error and a response
    /// excerpt of at most 512 bytes), stored out of line by TOAST so the claim path never reads it.
    public static let keptTries = 10

    /// Schema v5: a bounded per-try history on each attempt, for operators (`attempts show`, the API, the
    /// dashboard's timeline and charts).
    ///
    /// `tries` is a JSON array of the newest `Schema.keptTries` tries, oldest first, each an object with `try`
    /// (the try number), `node`, `started_at`, `duration_ms`, `outcome` (`succeeded`, `retry`, `failed`,
    /// `released`), `max_attempts` (the limit in force), and for failures `error_kind`, `http_status`, `error` and
    /// `excerpt`. Nodes append to it in the same fenced UPDATE that records the outcome, so it costs no statement
    /// of its own. A try whose node died before recording leaves a gap in the numbers. Adding a nullable column
    /// without a default does not rewrite the table.
    static let version5 = Migration(
        version: 5, name: "attempt_tries",
        sql: """
            ALTER TABLE async_task_attempts ADD COLUMN tries jsonb;
            """)
}
