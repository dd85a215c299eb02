import Foundation
import Testing
import TaipanCheckpoint
import TaipanData
@testable import TaipanTrain

/// Damaged checkpoints: each kind of damage is named when the checkpoint is chosen
/// explicitly, and `--resume` passes over a damaged newest checkpoint to the one before.
@Suite(.serialized) struct TrainCheckpointTests {
    /// A run of 8 steps with checkpoints at 4 and 8.
    static func finishedRun() throws -> (TinyRun, TrainConfig) {
        let run = try TinyRun()
        let config = run.config(steps: 8)
        try Trainer(config: config, start: .fresh, print: { _ in }).run()
        return (run, config)
    }

    /// Rewrites `file` of `checkpoint` with `change` and puts its new SHA-256 into state.json,
    /// so that only the damage itself remains for the reader to find.
    static func rewrite(_ file: String, of checkpoint: String, _ change: (inout SafeTensorsWriter, SafeTensorsFile) throws -> Void) throws {
        let path = checkpoint + "/" + file
        let old = try SafeTensorsFile(path: path)
        var writer = SafeTensorsWriter(metadata: old.metadata.filter { $0.key != "update_count" })
        try change(&writer, old)
        try writer.write(to: path + ".new")
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".new", toPath: path)
        let statePath = checkpoint + "/state.json"
        var state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: statePath))) as! [String: Any]
        var sums = state["checksums"] as! [String: String]
        sums[file] = try fileSHA256(path: path)
        state["checksums"] = sums
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: statePath))
    }

    static func resumeError(_ config: TrainConfig, from checkpoint: String) -> String {
        do {
            _ = try Trainer(config: config, start: .resumeFrom(checkpoint), print: { _ in })
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func aFlippedByteIsCaughtByItsChecksum() throws {
        let (run, config) = try Self.finishedRun()
        let checkpoint = config.training.runDirectory + "/checkpoints/step-00000008"
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: checkpoint + "/model.safetensors"))
        try handle.seek(toOffset: 600)
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: 600)
        try handle.write(contentsOf: Data([byte ^ 0x10]))
        try handle.close()
        let message = Self.resumeError(config, from: checkpoint)
        #expect(message.contains("model.safetensors: does not match the checksum in state.json"), "\(message)")
        _ = run
    }

    @Test func aMissingUpdateCountIsNamed() throws {
        let (run, config) = try Self.finishedRun()
        let checkpoint = config.training.runDirectory + "/checkpoints/step-00000008"
        try Self.rewrite("optimizer.safetensors", of: checkpoint) { writer, old in
            for name in old.names { writer.add(name, shape: try old.info(name).shape, floats: try old.floats(name)) }
        }
        let message = Self.resumeError(config, from: checkpoint)
        #expect(message.contains("optimizer.safetensors: no update_count in the metadata"), "\(message)")
        _ = run
    }

    @Test func aMomentOfTheWrongShapeIsNamed() throws {
        let (run, config) = try Self.finishedRun()
        let checkpoint = config.training.runDirectory + "/checkpoints/step-00000008"
        var changed = ""
        try Self.rewrite("optimizer.safetensors", of: checkpoint) { writer, old in
            writer = SafeTensorsWriter(metadata: old.metadata)
            for name in old.names {
                var values = try old.floats(name)
                var shape = try old.info(name).shape
                if changed.isEmpty && name.hasPrefix("exp_avg_sq.") && values.count > 1 {
                    changed = name
                    values.removeLast()
                    shape = [values.count]
                }
                writer.add(name, shape: shape, floats: values)
            }
        }
        let message = Self.resumeError(config, from: checkpoint)
        #expect(message.contains("tensor \"\(changed)\" has another shape"), "\(message)")
        _ = run
    }

    @Test func anotherSchemaVersionIsRefusedByNumber() throws {
        let (run, config) = try Self.finishedRun()
        let checkpoint = config.training.runDirectory + "/checkpoints/step-00000008"
        let statePath = checkpoint + "/state.json"
        let text = try String(contentsOfFile: statePath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"schema_version\" : 1", with: "\"schema_version\" : 7").write(toFile: statePath, atomically: true, encoding: .utf8)
        let message = Self.resumeError(config, from: checkpoint)
        #expect(message.contains("schema version 7; this Taipan reads version 1"), "\(message)")
        _ = run
    }
}
