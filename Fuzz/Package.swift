// swift-tools-version: 6.2
// libFuzzer targets for AsyncTask's parsers of untrusted text (issue 8): a separate package so the main build and
// `swift test` never see `-sanitize=fuzzer`. Build and run them with `scripts/fuzz.sh` (`make fuzz`); the short run
// is part of `make test`. Each target is an executable whose `LLVMFuzzerTestOneInput` feeds bytes to one parser and
// checks invariants beyond "does not crash"; a failed check is a `fatalError`, which libFuzzer reports as a crash.
import PackageDescription

/// The main package, by path. SwiftPM names a path dependency after its directory (`main`, `wt-fuzz`, a CI
/// checkout's name), so the name is read from the directory rather than spelled here.
let rootDirectory = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? "AsyncTask"

func product(_ name: String) -> Target.Dependency {
    .product(name: name, package: rootDirectory)
}

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// One fuzz target: `Sources/<name>/main.swift`, whose top-level code starts libFuzzer (`FuzzDriver.run`).
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, swiftSettings: swiftSettings)
}

let package = Package(
    name: "AsyncTaskFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        // libFuzzer's LLVMFuzzerRunDriver (the runtime comes with -sanitize=fuzzer).
        .systemLibrary(name: "CLibFuzzer"),
        // Starting libFuzzer, invariant checks and input decoding shared by the targets.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], swiftSettings: swiftSettings),
        // `Retry-After`: delta-seconds or an HTTP-date → a delay or nil.
        fuzzTarget("FuzzRetryAfter", [product("AsyncTaskTargets")]),
        // Configuration durations (`250ms`, `1.5s`, `7d`) → a Duration or an error naming the input.
        fuzzTarget("FuzzDuration", [product("AsyncTaskCore")]),
        // A JSON-RPC 2.0 response body → succeeded, retryable or permanent.
        fuzzTarget("FuzzJSONRPC", [product("AsyncTaskCore"), product("AsyncTaskTargets"), product("CurlHTTP")]),
        // Stored `method_args` envelopes → an envelope / plaintext, or an EncryptionError.
        fuzzTarget("FuzzEnvelope", [product("AsyncTask")]),
        // YAML config text → a WorkerConfiguration, or a ConfigurationError naming the key.
        fuzzTarget("FuzzConfig", [product("AsyncTaskWorker")]),
    ]
)
