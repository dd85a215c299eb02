// TrainState.swift — `state.json`, the part of a checkpoint that is not tensors: where the run
// stands (step, tokens, data position, random state), what it was configured with, and the
// checksums of the checkpoint's other files.

import Foundation
import TaipanData

/// Everything besides weights and optimizer moments that a resumed run needs to continue
/// exactly where the saved one stopped.
struct TrainState: Codable, Equatable {
    /// Bumped whenever the layout changes; older checkpoints are refused with a message.
    static let currentSchemaVersion = 1
    static let fileName = "state.json"

    var schemaVersion = TrainState.currentSchemaVersion
    /// Optimizer updates taken (the number of the next step to run).
    var step: Int
    /// Training tokens consumed (all micro-batches, all ranks).
    var tokensSeen: Int
    /// Steps skipped in a row because the loss or gradient was not finite.
    var badStepsInARow: Int
    /// The run's generator (sampling), saved and restored whole.
    var randomState: [UInt64]
    /// Where the training batcher stands.
    var dataPosition: BatcherPosition
    /// The learning rate of the last step taken.
    var learningRate: Double
    /// The kernels' thread count (per rank); results are bit-identical only with the same count.
    var threads: Int
    /// The ranks of the data-parallel job that wrote it (nil in checkpoints written before
    /// data parallelism: one); results are bit-identical only with the same number.
    var ranks: Int?
    /// The resolved configuration, as TOML.
    var config: String
    /// What the training data holds, wherever it lies (`DataManifest.contentSHA256`); nil in
    /// checkpoints written before runs could move, whose data paths must then stay the same.
    var dataDigest: String?
    /// SHA-256 of every other file in the checkpoint, by file name.
    var checksums: [String: String]

    static func read(from path: String) throws -> TrainState {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainError.run("\(path): cannot read the training state (\(error.localizedDescription))")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        struct Version: Decodable { var schemaVersion: Int }
        guard let version = try? decoder.decode(Version.self, from: data) else {
            throw TrainError.run("\(path): not a Taipan training state (no schema_version)")
        }
        guard version.schemaVersion == currentSchemaVersion else {
            throw TrainError.run("\(path): schema version \(version.schemaVersion); this Taipan reads version \(currentSchemaVersion)")
        }
        do { return try decoder.decode(TrainState.self, from: data) } catch {
            throw TrainError.run("\(path): the training state is damaged: \(error)")
        }
    }
}
