// TrainCheckpoint.swift — a training checkpoint: a Hugging Face model directory
// (`config.json`, `model.safetensors`) plus `optimizer.safetensors` (AdamW's moments as
// `exp_avg.NAME` / `exp_avg_sq.NAME`, its update count in the metadata), the run's
// `tokenizer.json` when it has one (as Hugging Face model directories carry theirs, so that
// `taipan generate` needs no --tokenizer), and `state.json`, whose checksums cover the other
// files. A LoRA run's checkpoint holds a PEFT adapter directory (`adapter_config.json`,
// `adapter_model.safetensors`) instead of the model: the frozen base stays where
// `model.init_from` points. Written through `CheckpointStore`, so it only counts once complete.

import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanNN
import TaipanOptim

enum TrainCheckpoint {
    static let optimizerFileName = "optimizer.safetensors"
    static let tokenizerFileName = "tokenizer.json"

    /// The files `state.json`'s checksums cover: the model's, or a LoRA run's adapter's.
    static func checksummedFiles(lora: LoRASettings?) -> [String] {
        (lora == nil ? [configFileName, singleWeightsFileName] : [adapterConfigFileName, adapterWeightsFileName]) + [optimizerFileName]
    }

    /// Saves `model` (or, with `lora`, its adapter on the base at `baseModel`), `optimizer`,
    /// `state` and the run's `tokenizerJSON` (when it has one) as the checkpoint of `state.step`.
    @discardableResult
    static func save(
        store: CheckpointStore, model: any LanguageModel, lora: LoRASettings? = nil, baseModel: String? = nil, optimizer: AdamW, state: TrainState,
        tokenizerJSON: Data? = nil
    ) throws -> String {
        try store.save(step: state.step) { directory in
            if let lora {
                try model.saveAdapter(settings: lora, directory: directory, baseModel: baseModel)
            } else {
                try model.save(directory: directory)
            }
            if let tokenizerJSON {
                try writeAtomically(path: (directory as NSString).appendingPathComponent(tokenizerFileName)) { file throws(CheckpointError) in
                    try file.write(String(decoding: tokenizerJSON, as: UTF8.self))
                }
            }
            var writer = SafeTensorsWriter(metadata: ["format": "taipan-adamw", "update_count": String(optimizer.stepCount)])
            for slot in optimizer.slots {
                let count = slot.parameter.count
                writer.add("exp_avg.\(slot.name)", shape: slot.parameter.shape, floats: UnsafeBufferPointer(start: slot.firstMoment.pointer, count: count))
                writer.add("exp_avg_sq.\(slot.name)", shape: slot.parameter.shape, floats: UnsafeBufferPointer(start: slot.secondMoment.pointer, count: count))
            }
            try writer.write(to: (directory as NSString).appendingPathComponent(optimizerFileName))
            var state = state
            for file in checksummedFiles(lora: lora) + (tokenizerJSON == nil ? [] : [tokenizerFileName]) {
                state.checksums[file] = try fileSHA256(path: (directory as NSString).appendingPathComponent(file))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let text = String(decoding: try encoder.encode(state), as: UTF8.self) + "\n"
            try writeAtomically(path: (directory as NSString).appendingPathComponent(TrainState.fileName)) { file throws(CheckpointError) in
                try file.write(text)
            }
        }
    }

    /// Reads `directory`'s `state.json` and checks every file it covers against its
    /// checksum; returns the state, or throws naming the first file that does not verify.
    static func verify(directory: String, lora: LoRASettings? = nil) throws -> TrainState {
        let state = try TrainState.read(from: (directory as NSString).appendingPathComponent(TrainState.fileName))
        for file in checksummedFiles(lora: lora) + (state.checksums[tokenizerFileName] == nil ? [] : [tokenizerFileName]) {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let expected = state.checksums[file] else { throw TrainError.run("\(directory)/state.json: no checksum for \(file)") }
            guard FileManager.default.fileExists(atPath: path) else { throw TrainError.run("\(path): missing") }
            guard try fileSHA256(path: path) == expected else {
                throw TrainError.run("\(path): does not match the checksum in state.json (the checkpoint was changed or damaged)")
            }
        }
        return state
    }

    /// Loads the checkpoint in `directory` into `model` (with `lora`, into its attached
    /// adapters) and `optimizer`, after `verify` unless the caller passes the state it already
    /// `verified`; returns the state.
    static func restore(
        directory: String, model: any LanguageModel, lora: LoRASettings? = nil, optimizer: AdamW, verified: TrainState? = nil
    ) throws -> TrainState {
        let state = try verified ?? verify(directory: directory, lora: lora)
        if let lora {
            try model.loadAdapterTensors(directory: directory, settings: lora)
        } else {
            let weightsPath = (directory as NSString).appendingPathComponent(singleWeightsFileName)
            try model.loadParameters(from: try SafeTensorsFile(path: weightsPath), path: weightsPath)
        }
        let optimizerPath = (directory as NSString).appendingPathComponent(optimizerFileName)
        let moments = try SafeTensorsFile(path: optimizerPath)
        guard let updates = moments.metadata["update_count"].flatMap({ Int($0) }) else {
            throw TrainError.run("\(optimizerPath): no update_count in the metadata")
        }
        for slot in optimizer.slots {
            for (name, tensor) in [("exp_avg.\(slot.name)", slot.firstMoment), ("exp_avg_sq.\(slot.name)", slot.secondMoment)] {
                guard try moments.info(name).shape == tensor.shape else {
                    throw TrainError.run("\(optimizerPath): tensor \"\(name)\" has another shape than the model's parameter")
                }
                try moments.readFloats(name, into: UnsafeMutableBufferPointer(start: tensor.pointer, count: tensor.count))
            }
        }
        optimizer.restore(stepCount: updates)
        return state
    }
}
