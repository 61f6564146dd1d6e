extension Duration {
    /// Whole milliseconds, for `$n * interval '1 millisecond'` binds.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
