// Bench.swift — `taipan bench`: benchmarks that check their result, then time it, and print
// medians next to a peer measured in the same run.

import ArgumentParser
import TaipanTokenizers

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Taipan's speed against a peer in the same run.",
        subcommands: [
            BenchTrain.self, BenchGenerate.self, BenchScan.self, BenchMatmul.self, BenchTokenizer.self, BenchAllreduce.self,
            BenchCheckpoint.self,
        ])
}
