// Taipan.swift — the `taipan` command: argument parsing only, one file per subcommand.

import ArgumentParser
import Foundation

@main
struct Taipan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train, fine-tune, evaluate and run Mamba language models on the CPU.",
        subcommands: [
            TrainCommand.self, EvalCommand.self, EvalLengthsCommand.self, ModelCommand.self, GenerateCommand.self, Tokenize.self,
            TokenizerCommand.self, DataCommand.self, ConfigCommand.self, Bench.self,
        ])

    static func main() {
        shortenBLASSpinning()
        main(nil)
    }

    /// OpenBLAS's idle threads spin (sched_yield) for about 2²⁸ cycles after every call, which
    /// on a small machine takes the cores from Taipan's own kernels that run between the
    /// matmuls (measured: 23% of a bench-small step). The spin is read from
    /// OPENBLAS_THREAD_TIMEOUT when the library loads, before any Swift code runs, so the
    /// process sets it and starts itself again; a value the user set is left alone.
    static func shortenBLASSpinning() {
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        let arguments = CommandLine.unsafeArgv
        execv("/proc/self/exe", arguments)
        // Only reached if the restart failed: carry on with the default spin.
    }
}
