/// A row that cannot be encoded for COPY.
public struct PostgresCopyError: Error, Sendable, CustomStringConvertible {
    /// The 1-based number of the row that was refused.
    public let row: Int
    /// What is wrong with it.
    public let message: String

    public var description: String { "COPY row \(row) \(message)" }
}
