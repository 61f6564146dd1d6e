import Foundation
import Yams

/// Describes a YAML error by its position and problem only, never by the file's text.
///
/// Yams' own descriptions quote the file: a syntax error shows the offending line, and a duplicated key shows
/// the whole document. A worker config holds secrets (the database URL with its password, webhook secrets, the
/// admin token, header values), so those descriptions would carry them into error output and container logs.
public enum YAMLErrorSummary {
    /// `line L, column C: problem` for a Yams error; nil for any other error.
    public static func describe(_ error: any Error) -> String? {
        guard let error = error as? YamlError else { return nil }
        switch error {
        case .no:
            return "unknown YAML error"
        case .memory:
            return "out of memory while parsing YAML"
        case .reader(let problem, let offset, _, let yaml):
            guard let offset else { return problem }
            let prefix = yaml.prefix(offset)
            let line = prefix.count(where: { $0 == "\n" }) + 1
            let column =
                prefix.distance(from: prefix.lastIndex(of: "\n").map { prefix.index(after: $0) } ?? prefix.startIndex, to: prefix.endIndex) + 1
            return "line \(line), column \(column): \(problem)"
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // The context text is libyaml's phrase ("while scanning a quoted scalar"), not file content.
            return "line \(mark.line), column \(mark.column): \(context.map { "\($0.text) " } ?? "")\(problem)"
        case .writer(let problem), .emitter(let problem), .representer(let problem):
            return problem
        case .dataCouldNotBeDecoded(let encoding):
            return "the file is not \(encoding) text"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return
                "line \(context.mark.line), column \(context.mark.column): duplicated key(s) \(duplicates.map { "'\($0)'" }.joined(separator: ", "))"
        }
    }
}
