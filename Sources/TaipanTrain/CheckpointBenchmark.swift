// CheckpointBenchmark.swift — what `taipan bench checkpoint` measures: the time to write a
// training checkpoint of a config's model (weights, AdamW moments, state.json: written, fsynced,
// hashed, renamed into place, marked complete) and to verify it (every file hashed against
// state.json), next to peers in the same run: the same bytes written and fsynced as one plain
// file, read back plainly, and hashed in memory. A prompt stop on SIGTERM takes the write time.

import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanNN
import TaipanOptim
import TaipanTensor

#if canImport(Glibc)
import Glibc
#endif

/// Results of `taipan bench checkpoint` (medians).
public struct CheckpointBenchmarkReport: Sendable {
    public var parameters: Int
    /// Bytes of the checkpoint's files.
    public var bytes: Int
    /// Writing the checkpoint: files, fsyncs, hashes, rename, marker.
    public var writeSeconds: Double
    /// Verifying it: state.json read, every file hashed and compared.
    public var verifySeconds: Double
    /// Peer: the same number of bytes written to one file and fsynced.
    public var plainWriteSeconds: Double
    /// Peer: the checkpoint's files read (no hashing).
    public var plainReadSeconds: Double
    /// SHA-256 of the files' bytes already in memory, bytes per second.
    public var hashBytesPerSecond: Double
}

extension Benchmarks {
    /// Writes and verifies `repeats` checkpoints of `config`'s model and a full set of AdamW
    /// moments under `directory`, timing each, and the peers beside them.
    public static func checkpoint(config: TrainConfig, repeats: Int, directory: String) throws -> CheckpointBenchmarkReport {
        let vocabulary = config.model.vocabularySize > 0 ? config.model.vocabularySize : 4096
        var generator = SeededGenerator(seed: UInt64(config.training.seed))
        let model = MambaLM(config: try config.mambaConfig(vocabularySize: vocabulary), generator: &generator)
        let optimizer = AdamW(parameters: model.namedParameters, hyperparameters: .init(), noDecay: [])
        // Moments that are not all zeros, as after training.
        for slot in optimizer.slots {
            for index in 0..<slot.parameter.count {
                slot.firstMoment.pointer[index] = slot.parameter.pointer[index] * 1e-3
                slot.secondMoment.pointer[index] = slot.parameter.pointer[index] * slot.parameter.pointer[index]
            }
        }
        let store = CheckpointStore(root: directory)
        var writes: [Double] = [], verifies: [Double] = [], plainWrites: [Double] = [], plainReads: [Double] = [], hashes: [Double] = []
        var bytes = 0
        for repeat_ in 0..<repeats {
            let state = TrainState(
                step: repeat_ + 1, tokensSeen: 0, badStepsInARow: 0, randomState: generator.state, dataPosition: BatcherPosition(epoch: 0, batch: 0, windowCount: 0),
                learningRate: 0, threads: Threads.count, ranks: 1, config: config.resolvedTOML(), dataDigest: nil, checksums: [:])
            var path = ""
            writes.append(try time { path = try TrainCheckpoint.save(store: store, model: model, optimizer: optimizer, state: state) })
            verifies.append(try time { _ = try TrainCheckpoint.verify(directory: path) })
            let files = try FileManager.default.contentsOfDirectory(atPath: path).map { (path as NSString).appendingPathComponent($0) }
            var contents: [Data] = []
            plainReads.append(try time { contents = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } })
            bytes = contents.reduce(0) { $0 + $1.count }
            hashes.append(time { for data in contents { _ = data.withUnsafeBytes { buffer in var hasher = SHA256(); hasher.update(buffer); return hasher.hexDigest() } } })
            let plain = (directory as NSString).appendingPathComponent("plain-\(repeat_)")
            plainWrites.append(try time { try writePlain(contents, to: plain) })
            try? FileManager.default.removeItem(atPath: plain)
            try? FileManager.default.removeItem(atPath: path)
        }
        return CheckpointBenchmarkReport(
            parameters: model.parameterCount, bytes: bytes, writeSeconds: median(writes), verifySeconds: median(verifies),
            plainWriteSeconds: median(plainWrites), plainReadSeconds: median(plainReads), hashBytesPerSecond: Double(bytes) / median(hashes))
    }

    /// Writes `chunks` one after another into one new file and fsyncs it.
    private static func writePlain(_ chunks: [Data], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw TrainError.run("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        for chunk in chunks {
            try chunk.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    guard written > 0 else { throw TrainError.run("\(path): write failed: \(String(cString: strerror(errno)))") }
                    offset += written
                }
            }
        }
        guard fsync(descriptor) == 0 else { throw TrainError.run("\(path): fsync failed: \(String(cString: strerror(errno)))") }
    }
}
