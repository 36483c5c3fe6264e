// swift-tools-version: 6.1
//
// FlexHTTP against AsyncHTTPClient: small POSTs to a local SwiftNIO server at several concurrencies,
// both clients in one run. A separate package so that flexd's own build never compiles
// AsyncHTTPClient. Run it with `tools/flexhttp-bench/run` (release build); results: RESULTS.md.

import PackageDescription

let package = Package(
    name: "flexhttp-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "flexd", path: "../.."),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "flexhttp-bench",
            dependencies: [
                .product(name: "FlexHTTP", package: "flexd"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        )
    ]
)
