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
    products: [],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // libpq, found through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
    ]
)
