// swift-tools-version:6.0
// Taipan: training selective state-space language models (Mamba) on the CPU.
import PackageDescription

let package = Package(
    name: "Taipan",
    products: [
        .library(name: "TaipanTensor", targets: ["TaipanTensor"]),
        .library(name: "TaipanData", targets: ["TaipanData"]),
        .executable(name: "taipan", targets: ["TaipanCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's C libraries, seen through a modulemap and a one-line shim header each.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),

        .target(name: "TaipanTensor", dependencies: ["CBLAS"]),
        .target(name: "TaipanData", dependencies: ["CZstd"]),
        .target(name: "TaipanNN", dependencies: ["TaipanTensor"]),
        .executableTarget(
            name: "TaipanCLI",
            dependencies: [
                "TaipanTensor", "TaipanData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "TaipanTensorTests", dependencies: ["TaipanTensor"]),
        .testTarget(name: "TaipanDataTests", dependencies: ["TaipanData"]),
        .testTarget(name: "TaipanNNTests", dependencies: ["TaipanNN", "TaipanTensor"]),
    ]
)
