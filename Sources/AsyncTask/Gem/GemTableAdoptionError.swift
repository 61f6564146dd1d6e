/// Why `asynctask migrate` (with or without `--adopt`) did not adopt a table; nothing was changed.
public struct GemTableAdoptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The table concerned.
    public let table: String
    /// What is wrong with it and what to do, following the table's name.
    public let problem: String

    /// Creates an error about `table`.
    public init(table: String, problem: String) {
        self.table = table
        self.problem = problem
    }

    public var description: String { "\(table) \(problem)" }
}
