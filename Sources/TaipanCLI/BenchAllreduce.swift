// BenchAllreduce.swift — `mpirun -np N taipan bench allreduce`: the time of the gradient sum
// against message size, checked exactly, as data-parallel training uses it.

import ArgumentParser
import Foundation
import TaipanDistributed
import TaipanTrain

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time the float sum allreduce between the ranks of an MPI job against message size (run under mpirun).")

    @Option(help: "The smallest message, in bytes.") var minBytes = 4096
    @Option(help: "The largest message, in bytes (sizes grow fourfold).") var maxBytes = 64 << 20
    @Option(help: "Timed calls per size (the median of the slowest rank is reported).") var repeats = 5

    func validate() throws {
        guard minBytes >= 4, maxBytes >= minBytes, repeats >= 1 else {
            throw ValidationError("need 4 ≤ --min-bytes ≤ --max-bytes and --repeats ≥ 1")
        }
    }

    func run() throws {
        try runDistributed { communicator in
            var sizes: [Int] = []
            var size = minBytes
            while size <= maxBytes {
                sizes.append(size)
                size *= 4
            }
            let results = try Benchmarks.allreduce(sizes: sizes, repeats: repeats, communicator: communicator)
            guard communicator.isRoot else { return }
            if communicator.size == 1 { print("note: a job of one process; run under mpirun -np N to measure the exchange") }
            print("allreduce (float sum) across \(communicator.size) ranks (\(communicator.localSize) on this host), median of \(repeats), results checked")
            print("     bytes |      ms | algorithm GB/s | bus GB/s")
            for r in results {
                print(String(format: "%10d | %7.3f | %14.3f | %8.3f", r.bytes, r.medianSeconds * 1e3,
                             r.algorithmBandwidth / 1e9, r.busBandwidth(ranks: communicator.size) / 1e9))
            }
            for r in results {
                print(String(format: "RESULT bytes=%d ms=%.4f bus_gb_per_second=%.4f", r.bytes, r.medianSeconds * 1e3,
                             r.busBandwidth(ranks: communicator.size) / 1e9))
            }
        }
    }
}
