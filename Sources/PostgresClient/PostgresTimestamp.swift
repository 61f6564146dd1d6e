/// PostgreSQL's timestamp epoch, for reading binary `timestamptz` and `date` values (their text form is
/// `UTCTimestamp.postgresText`, in AsyncTaskCore).
enum PostgresTimestamp {
    /// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 UTC.
    static let postgresEpochOffset: Int64 = 946_684_800
}
