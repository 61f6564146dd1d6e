import CLibFuzzer
import Foundation

/// Starts libFuzzer from a target's `main.swift`.
///
/// SwiftPM links an executable target with its `main.swift` entry point renamed to `<Module>_main` and aliased
/// to `main` (`--defsym`), which takes the place of libFuzzer's own `main`. So each target's top-level code calls
/// `FuzzDriver.run(body)`, which hands the command line to `LLVMFuzzerRunDriver` (libFuzzer's API for programs with
/// their own main); the same function is also exported as `LLVMFuzzerTestOneInput`, which libFuzzer's unused
/// `main` object still refers to. Pointers appear only here and in `FuzzCheck`, where the C interface demands them.
public enum FuzzDriver {
    /// A fuzz target's per-input function: the input's bytes (nil or empty for the empty input); returns 0.
    public typealias Body = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

    /// Runs libFuzzer with this process's arguments (corpus directories, `-max_total_time=…`, a reproducer file)
    /// and exits with its status.
    public static func run(_ body: Body) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, body))
    }
}
