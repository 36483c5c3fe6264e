// swift-tools-version: 6.1
//
// Fuzz targets for flexd (libFuzzer). Minimal version carrying only FuzzSSEParser; the lead's fuzz
// package (with tools/fuzz) replaces it on main.
//
//   swift build --package-path Tests/Fuzz --scratch-path Tests/Fuzz/.build-fuzz \
//       --sanitize=fuzzer --sanitize=address
//   Tests/Fuzz/.build-fuzz/debug/FuzzSSEParser Tests/Fuzz/Corpus/FuzzSSEParser -max_total_time=60

import PackageDescription

let package = Package(
    name: "flexd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "flexd", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzSSEParser",
            dependencies: [.product(name: "FlexSSE", package: "flexd")]
        ),
    ]
)
