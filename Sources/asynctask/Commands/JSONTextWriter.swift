import AsyncTaskCore
import Foundation

/// Writes the example target's JSON text: each line of its call record (a JSON object with its keys in order)
/// and its batched replies.
///
/// The record is written for every call the target answers, and the pickup probe reads the target's clock from
/// it, so its cost is on the path being measured. Foundation's `JSONSerialization` with sorted keys (collation
/// through ICU) was 31–38% of the recording target's CPU at 1,000 calls/s (perf, `make bench`'s pickup probe), on
/// the two cores it shares with PostgreSQL and the node; the batched replies through `JSONSerialization` were
/// about half of the target's 19–31 µs per batched attempt. Their values are flat (numbers, strings, booleans);
/// anything nested (`--record-arguments`) still goes through `JSONSerialization`.
enum JSONTextWriter {
    /// The object as one line of JSON, newline included; nil when a nested value is not valid JSON.
    static func line(_ object: [String: Any]) -> Data? {
        var text = "{"
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            JSONString.append(key, to: &text)
            text += ":"
            guard append(object[key]!, to: &text) else { return nil }
        }
        text += "}\n"
        return Data(text.utf8)
    }

    /// Appends `value` as JSON; false when a nested value is not valid JSON.
    static func append(_ value: Any, to text: inout String) -> Bool {
        // Swift's own types first, by their dynamic type: a cast would also bridge an NSNumber into each of them.
        let kind = type(of: value)
        if let string = value as? String {
            JSONString.append(string, to: &text)
        } else if kind == Double.self, let double = value as? Double {
            text += double.isFinite ? double.description : "null"
        } else if kind == Int.self, let int = value as? Int {
            text += String(int)
        } else if kind == Int64.self, let int = value as? Int64 {
            text += String(int)
        } else if kind == Bool.self, let bool = value as? Bool {
            text += bool ? "true" : "false"
        } else if let number = value as? NSNumber {
            // Parsed JSON: booleans are NSNumbers of type "c", other numbers print as themselves.
            text += String(cString: number.objCType) == "c" ? (number.boolValue ? "true" : "false") : number.stringValue
        } else {
            guard JSONSerialization.isValidJSONObject([value]),
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
            else { return false }
            text += String(decoding: data, as: UTF8.self)
        }
        return true
    }
}
