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
    // A warning is a defect: the build fails on it, in CI and locally alike.
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "AsyncTask",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "asynctask", targets: ["asynctask"]),
        .library(name: "AsyncTaskCore", targets: ["AsyncTaskCore"]),
        .library(name: "AsyncTask", targets: ["AsyncTask"]),
        .library(name: "AsyncTaskWorker", targets: ["AsyncTaskWorker"]),
        .library(name: "AsyncTaskAdmin", targets: ["AsyncTaskAdmin"]),
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "CurlHTTP", targets: ["CurlHTTP"]),
        .library(name: "AsyncTaskTargets", targets: ["AsyncTaskTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // Deque for the HTTP engine's queue of requests waiting for a transfer slot.
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // AES-256-GCM for encrypted method_args (DESIGN §6) and HMAC-SHA256 webhook signatures (§5).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // The loopback HTTP(S) server the CurlHTTP and target tests talk to.
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
        // which Swift cannot call directly, and the engine thread's naming (a GNU extension).
        .target(
            name: "CCurlShims",
            dependencies: ["CCurl"]
        ),
        // PostgreSQL over libpq: connections on their own threads, pool, transactions, LISTEN/NOTIFY.
        .target(
            name: "PostgresClient",
            dependencies: [
                "AsyncTaskCore",
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP client over libcurl's multi interface: one engine thread, async callers.
        .target(
            name: "CurlHTTP",
            dependencies: [
                "AsyncTaskCore",
                "CCurl",
                "CCurlShims",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The pure shared types every layer speaks: statuses, error kinds, method names, durations, redaction.
        // A leaf: no C library, no Foundation, so depending on it drags nothing along.
        .target(
            name: "AsyncTaskCore",
            swiftSettings: swiftSettings
        ),
        // The model: attempts, schema and migrations, enqueue, operator actions.
        .target(
            name: "AsyncTask",
            dependencies: [
                "AsyncTaskCore",
                "PostgresClient",
                .product(name: "Crypto", package: "swift-crypto"),
                // The async_task gem's YAML arguments (GemArgumentsDecoder), for adopted tables.
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP/RPC contract with targets: configuration, request building, outcome classification.
        .target(
            name: "AsyncTaskTargets",
            dependencies: ["AsyncTaskCore", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        // The worker node: configuration, claiming, executing, recording, heartbeat.
        .target(
            name: "AsyncTaskWorker",
            dependencies: [
                "AsyncTask",
                "AsyncTaskCore",
                "AsyncTaskTargets",
                "CurlHTTP",
                "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The operator surface inside a node: health, readiness, Prometheus metrics, JSON API and dashboard.
        // It knows nothing of the worker: the node is seen through `NodeStatusProvider`.
        .target(
            name: "AsyncTaskAdmin",
            dependencies: [
                "AsyncTask",
                "AsyncTaskCore",
                "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "asynctask",
            dependencies: [
                "AsyncTask",
                "AsyncTaskCore",
                "AsyncTaskAdmin",
                "AsyncTaskWorker",
                "AsyncTaskTargets",
                "CurlHTTP",
                "PostgresClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets: a private database per test, and running the real `asynctask` binary.
        .target(
            name: "TestSupport",
            dependencies: ["PostgresClient"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        // Test support: a scripted SwiftNIO HTTP/1.1 server (plain and TLS) on loopback.
        .target(
            name: "LoopbackHTTPServer",
            dependencies: [
                "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/LoopbackHTTPServer",
            swiftSettings: swiftSettings
        ),
        // The leaf module's types, alone: no database, no network.
        .testTarget(
            name: "AsyncTaskCoreTests",
            dependencies: ["AsyncTaskCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "TestSupport"],
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
            name: "AsyncTaskTests",
            dependencies: [
                "AsyncTask", "AsyncTaskCore", "PostgresClient", "TestSupport",
                // SHA-256 of released migrations (MigrationTextTests).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AsyncTaskTargetsTests",
            dependencies: [
                "AsyncTask",
                "AsyncTaskCore",
                "AsyncTaskTargets",
                "CurlHTTP",
                "LoopbackHTTPServer",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AsyncTaskWorkerTests",
            dependencies: [
                "AsyncTaskWorker", "AsyncTaskCore", "AsyncTaskTargets", "AsyncTask", "CurlHTTP", "PostgresClient", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Several real `asynctask worker` processes against the example target (and, for the security suite,
        // scripted loopback HTTP(S) servers).
        .testTarget(
            name: "ClusterTests",
            dependencies: ["AsyncTask", "AsyncTaskCore", "AsyncTaskWorker", "PostgresClient", "TestSupport", "LoopbackHTTPServer"],
            swiftSettings: swiftSettings
        ),
        // The admin app served on loopback against a real database (HTTP through a real socket).
        .testTarget(
            name: "AsyncTaskAdminTests",
            dependencies: [
                "AsyncTaskAdmin", "AsyncTask", "AsyncTaskCore", "PostgresClient", "TestSupport",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AsyncTaskCLITests",
            dependencies: ["AsyncTask", "PostgresClient", "TestSupport"],
            // Expected outputs, read from the source tree by path (Golden.swift).
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
    ]
)
