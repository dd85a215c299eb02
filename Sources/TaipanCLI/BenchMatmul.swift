// BenchMatmul.swift — `taipan bench matmul`: the Tensor matmul next to a raw `cblas_sgemm`
// of the same size, to show the wrapper's overhead.

import ArgumentParser
import CBLAS
import Foundation
import TaipanTensor
import TaipanTrain

struct BenchMatmul: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul", abstract: "GFLOP/s of Tensor matmul next to raw cblas_sgemm.")

    @Option(help: "Rows of the product.") var m = 1024
    @Option(help: "Columns of the product.") var n = 1024
    @Option(help: "Inner size.") var k = 1024
    @Option(help: "Timed repetitions of each (the median is reported).") var repeats = 21
    @Option(help: "Threads for OpenBLAS and Taipan (default: all cores).") var threads: Int?

    func validate() throws {
        guard m > 0, n > 0, k > 0 else { throw ValidationError("--m, --n and --k must be positive") }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        Threads.set(threads ?? Threads.count)
        var generator = SeededGenerator(seed: 1)
        let a = Tensor(uniform: [m, k], low: -1, high: 1, generator: &generator)
        let b = Tensor(uniform: [k, n], low: -1, high: 1, generator: &generator)
        let raw = Tensor(zeros: [m, n])
        func rawProduct() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, a.pointer, Int32(k), b.pointer, Int32(n), 0, raw.pointer, Int32(n))
        }
        // Check before timing: the wrapper must give exactly what sgemm gives.
        rawProduct()
        guard withoutGradients({ matmul(a, b) }).values == raw.values else {
            throw ValidationError("Tensor matmul differs from cblas_sgemm: benchmark aborted")
        }
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        var rawTimes: [Double] = [], tensorTimes: [Double] = []
        // Interleave the two so that load on the machine hits both alike.
        for _ in 0..<repeats {
            rawTimes.append(Benchmarks.time { rawProduct() })
            tensorTimes.append(Benchmarks.time { _ = withoutGradients { matmul(a, b) } })
        }
        let rawMedian = Benchmarks.median(rawTimes), tensorMedian = Benchmarks.median(tensorTimes)
        print("matmul \(m)×\(k) · \(k)×\(n), \(Threads.count) threads, median of \(repeats)")
        print(String(format: "  cblas_sgemm      %8.3f ms  %7.1f GFLOP/s", rawMedian * 1e3, flops / rawMedian / 1e9))
        print(String(format: "  Tensor matmul    %8.3f ms  %7.1f GFLOP/s", tensorMedian * 1e3, flops / tensorMedian / 1e9))
        print(String(format: "  wrapper overhead %+7.2f %%", (tensorMedian / rawMedian - 1) * 100))
    }
}
