// swift-tools-version: 6.2
import PackageDescription

/// Settings shared by every Swift target.
let swiftSettings: [SwiftSetting] = [
    // `any P` spelled out makes the cost of existentials visible in review.
    .enableUpcomingFeature("ExistentialAny"),
    // A file sees only the modules it imports itself, so layering stays honest.
    .enableUpcomingFeature("MemberImportVisibility"),
    // Imports are internal unless marked `public import`: a module's public API names its dependencies explicitly.
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "AsyncTask",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CurlHTTP", targets: ["CurlHTTP"]),
        .library(name: "AsyncTaskTargets", targets: ["AsyncTaskTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Test-only: the loopback HTTP(S) server that the CurlHTTP and target tests talk to.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libpq, found through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // libcurl, found through pkg-config.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Typed, non-variadic wrappers for curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt,
        // which Swift cannot call directly.
        .target(
            name: "CCurlShims",
            dependencies: ["CCurl"]
        ),
        // HTTP client over libcurl's multi interface: one engine thread, async callers.
        .target(
            name: "CurlHTTP",
            dependencies: [
                "CCurl",
                "CCurlShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP/RPC contract with targets: configuration, request building, outcome classification.
        .target(
            name: "AsyncTaskTargets",
            dependencies: ["CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        // Test support: a scripted SwiftNIO HTTP/1.1 server (plain and TLS) on loopback.
        .target(
            name: "LoopbackHTTPServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/LoopbackHTTPServer",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP",
                "LoopbackHTTPServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AsyncTaskTargetsTests",
            dependencies: [
                "AsyncTaskTargets",
                "CurlHTTP",
                "LoopbackHTTPServer",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
