// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Linux only: the POSIX layer calls Glibc, the sandbox is bubblewrap. No platform is declared
// for Darwin because nothing there is built or tested.
let package = Package(
    name: "mlpack",
    products: [
        .library(name: "MLPack", targets: ["MLPack"]),
        .executable(name: "mlpack", targets: ["mlpack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries, each touched from one internal file of MLPack.
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(
            name: "CSodium", pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"]), .brew(["libsodium"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .target(
            name: "MLPack",
            dependencies: [
                "CArchive", "CZstd", "CSodium", "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["EmbedTracer"]),
        // The read tracer (Sources/MLPackTracer, C) is compiled by this plugin and embedded.
        .plugin(name: "EmbedTracer", capability: .buildTool(), dependencies: ["EmbedFile"]),
        .executableTarget(name: "EmbedFile"),
        .executableTarget(
            name: "mlpack",
            dependencies: [
                "MLPack",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // What both test targets share (file helpers, the environment capture's items).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MLPackTests", dependencies: ["MLPack", "TestSupport"]),
        .testTarget(
            name: "EndToEndTests", dependencies: ["mlpack", "TestSupport"],
            resources: []),
    ]
)

// The fuzz target links libFuzzer's main, so it exists only in `make fuzz`'s build
// (MLPACK_FUZZ=1 swift build -Xswiftc -sanitize=fuzzer,address).
if ProcessInfo.processInfo.environment["MLPACK_FUZZ"] != nil {
    package.targets += [
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "mlpack-fuzz", dependencies: ["MLPack", "CFuzzDriver"]),
    ]
}
