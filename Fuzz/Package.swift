// swift-tools-version:6.0
// Taipan's libFuzzer targets, one executable per parser of file input. A package of its own
// so that Taipan's Package.swift keeps no unsafe flags and its products stay as they are:
//
//   swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address
//   .build/release/FuzzSafeTensors Corpus/FuzzSafeTensors
//
// `make fuzz` (in the repository root) builds them and runs each on its corpus.
import PackageDescription

// Each target's file is a library file (no top-level code); it exports `<Target>_main`.
let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "TaipanFuzz",
    dependencies: [.package(name: "Taipan", path: "..")],
    targets: [
        // libFuzzer's driver entry point, declared for Swift.
        .target(name: "FuzzDriver"),
        // Starts libFuzzer, and writes each input to a file under /dev/shm for the parsers
        // that only take a path.
        .target(name: "FuzzSupport", dependencies: ["FuzzDriver"]),
        .executableTarget(
            name: "FuzzSafeTensors",
            dependencies: ["FuzzSupport", .product(name: "TaipanCheckpoint", package: "Taipan")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzTokenizerFile",
            dependencies: ["FuzzSupport", .product(name: "TaipanTokenizers", package: "Taipan")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzRecords",
            dependencies: ["FuzzSupport", .product(name: "TaipanData", package: "Taipan")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzTrainConfig",
            dependencies: ["FuzzSupport", .product(name: "TaipanTrain", package: "Taipan")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzTokenShard",
            dependencies: ["FuzzSupport", .product(name: "TaipanData", package: "Taipan")],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "FuzzTorchCheckpoint",
            dependencies: ["FuzzSupport", .product(name: "TaipanCheckpoint", package: "Taipan")],
            swiftSettings: fuzzTarget),
    ]
)
