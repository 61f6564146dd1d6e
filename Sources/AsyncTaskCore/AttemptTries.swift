/// How many tries an attempt gets: its row's `max_attempts`, else its target's, else this default.
public enum AttemptTries {
    /// The tries of an attempt when neither its row nor its target's `max_attempts` says otherwise. Also the
    /// fresh budget `migrate --adopt` gives the pending rows the async_task gem had already tried.
    public static let defaultMaximum = 12
}
