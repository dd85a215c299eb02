// BenchCheckpoint.swift — `taipan bench checkpoint`: writing and verifying a training
// checkpoint of a config's model, beside a plain write, read and in-memory hash of the same
// bytes in the same run.

import ArgumentParser
import Foundation
import TaipanTrain

struct BenchCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Time writing and verifying a training checkpoint (e.g. of configs/bench-130m.toml).")

    @OptionGroup var options: BenchOptions
    @Option(help: "Checkpoints written and verified (the medians are reported).") var repeats = 3
    @Option(help: "Where to write them (a directory made and removed; default: the system's temporary directory).") var directory: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let config = try options.load()
        let base = directory ?? FileManager.default.temporaryDirectory.path
        let scratch = (base as NSString).appendingPathComponent("taipan-bench-checkpoint-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let r = try Benchmarks.checkpoint(config: config, repeats: repeats, directory: scratch)
        let megabytes = Double(r.bytes) / 1e6
        print("\(options.config): \(r.parameters.formatted()) parameters, checkpoint files \(String(format: "%.1f", megabytes)) MB, median of \(repeats), in \(base)")
        print(String(format: "  write (files, fsync, SHA-256, rename, COMPLETE) %.2f s — plain write + fsync of the same bytes %.2f s (%.2f×)",
                     r.writeSeconds, r.plainWriteSeconds, r.writeSeconds / r.plainWriteSeconds))
        print(String(format: "  verify (SHA-256 of every file)            %.2f s — plain read %.2f s; %.0f MB/s hashing in memory",
                     r.verifySeconds, r.plainReadSeconds, r.hashBytesPerSecond / 1e6))
        print(String(format: "  verify / write %.2f; a SIGTERM's checkpoint takes the write time", r.verifySeconds / r.writeSeconds))
        print(String(format: "RESULT write_s=%.3f verify_s=%.3f plain_write_s=%.3f plain_read_s=%.3f hash_mb_s=%.1f bytes=%d",
                     r.writeSeconds, r.verifySeconds, r.plainWriteSeconds, r.plainReadSeconds, r.hashBytesPerSecond / 1e6, r.bytes))
    }
}
