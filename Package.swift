// swift-tools-version:6.0
// Taipan: training selective state-space language models (Mamba) on the CPU.
import PackageDescription

let package = Package(
    name: "Taipan",
    products: [
        .library(name: "TaipanTensor", targets: ["TaipanTensor"]),
        .library(name: "TaipanNN", targets: ["TaipanNN"]),
        .library(name: "TaipanOptim", targets: ["TaipanOptim"]),
        .library(name: "TaipanTokenizers", targets: ["TaipanTokenizers"]),
        .library(name: "TaipanData", targets: ["TaipanData"]),
        .library(name: "TaipanCheckpoint", targets: ["TaipanCheckpoint"]),
        .library(name: "TaipanDistributed", targets: ["TaipanDistributed"]),
        .library(name: "TaipanTrain", targets: ["TaipanTrain"]),
        .executable(name: "taipan", targets: ["TaipanCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // SHA-256 for checkpoints and manifests: 8× the hand-written version's speed (SHA256.swift).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Debian's C libraries, seen through a modulemap and a one-line shim header each.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),

        .target(name: "TaipanTensor", dependencies: ["CBLAS"]),
        .target(name: "TaipanNN", dependencies: ["TaipanTensor"]),
        .target(name: "TaipanOptim", dependencies: ["TaipanTensor"]),
        .target(name: "TaipanTokenizers"),
        .target(name: "TaipanData", dependencies: ["CZstd", "TaipanTokenizers", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "TaipanCheckpoint", dependencies: ["TaipanTensor", "TaipanNN"]),
        .target(name: "TaipanDistributed", dependencies: ["CMPI"]),
        .target(
            name: "TaipanTrain",
            dependencies: [
                "TaipanTensor", "TaipanNN", "TaipanOptim", "TaipanTokenizers", "TaipanData", "TaipanCheckpoint", "TaipanDistributed",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        .executableTarget(
            name: "TaipanCLI",
            dependencies: [
                "CBLAS", "TaipanTensor", "TaipanNN", "TaipanTokenizers", "TaipanData", "TaipanCheckpoint", "TaipanDistributed", "TaipanTrain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Shared by the test targets: Float64 references and finite-difference gradient checks.
        .target(name: "TaipanTestSupport", dependencies: ["TaipanTensor"], path: "Tests/TaipanTestSupport"),
        .testTarget(name: "TaipanTensorTests", dependencies: ["TaipanTensor", "TaipanTestSupport"]),
        .testTarget(name: "TaipanNNTests", dependencies: ["TaipanNN", "TaipanTestSupport"]),
        .testTarget(name: "TaipanOptimTests", dependencies: ["TaipanOptim", "TaipanTensor"]),
        // Shared by the tokenizer and data tests: the tokenizer fixtures made with Hugging Face `tokenizers`.
        .target(
            name: "TaipanTokenizersTestSupport", dependencies: ["TaipanTokenizers"],
            path: "Tests/TaipanTokenizersTestSupport"),
        .testTarget(name: "TaipanTokenizersTests", dependencies: ["TaipanTokenizers", "TaipanTokenizersTestSupport"]),
        .testTarget(
            name: "TaipanDataTests",
            dependencies: ["TaipanData", "TaipanTokenizers", "TaipanTokenizersTestSupport", "CZstd"]),
        // Runs the built `taipan` executable end to end.
        .testTarget(name: "TaipanCLITests", dependencies: ["TaipanCLI", "TaipanCheckpoint"]),
        .testTarget(name: "TaipanDistributedTests", dependencies: ["TaipanDistributed"]),
        .testTarget(name: "TaipanCheckpointTests", dependencies: ["TaipanCheckpoint", "TaipanNN", "TaipanTensor"]),
        .testTarget(name: "TaipanTrainTests", dependencies: ["TaipanTrain", "TaipanNN", "TaipanData", "TaipanCheckpoint", "TaipanTensor", "TaipanTestSupport"]),
    ]
)
