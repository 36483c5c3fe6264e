// swift-tools-version: 6.1
//
// libFuzzer targets for flexd's decoders. Built apart from the main package because every target
// here (and everything it depends on) must be compiled with `--sanitize=fuzzer --sanitize=address`:
//
//     tools/fuzz                 # build, then run each target for a bounded time
//
// Seed corpora live in Corpus/<target>/; crashes found are minimised into FailCases/<target>/
// and replayed by `tools/fuzz --regressions`.

import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let rootPackage = root.lastPathComponent.lowercased()

let package = Package(
    name: "flexd-fuzz",
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrameDecoder",
            dependencies: [
                .product(name: "FlexCodec", package: rootPackage),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzJSONParser",
            dependencies: [
                .product(name: "FlexJSON", package: rootPackage),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzSSEParser",
            dependencies: [.product(name: "FlexSSE", package: rootPackage)]
        ),
        .executableTarget(
            name: "FuzzServerStreams",
            dependencies: [
                .product(name: "FlexServer", package: rootPackage),
                .product(name: "FlexCodec", package: rootPackage),
                .product(name: "FlexCore", package: rootPackage),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
