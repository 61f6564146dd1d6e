import AsyncTaskCore
import FuzzSupport

/// Duration text → a Duration, or an error that names the text; surrounding spaces never change the answer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = FuzzCheck.text(data, size)
    let result = Result { () throws(DurationParser.Error) in try DurationParser.parse(text) }
    let padded = Result { () throws(DurationParser.Error) in try DurationParser.parse(" \(text)  ") }
    switch (result, padded) {
    case (.success(let duration), .success(let again)):
        FuzzCheck.require(duration == again, "spaces around a duration do not change it (\(duration) vs \(again))", input: text)
    case (.failure(let error), .failure):
        FuzzCheck.require(error.input == text, "the error names the input (it names '\(error.input)')", input: text)
        // Compared as scalars: a leading combining mark joins the message's opening quote into one Character.
        FuzzCheck.require(FuzzCheck.contains(error.description, text), "the message quotes the input", input: text)
        FuzzCheck.require(!error.reason.isEmpty, "the error says what is wrong", input: text)
    default:
        FuzzCheck.require(false, "spaces around a duration do not change whether it parses", input: text)
    }
    return 0
}

FuzzDriver.run(fuzzDuration)
