// AdapterLoading.swift — `--adapter DIR` (a PEFT LoRA adapter) for the commands that run a
// model, and `taipan model merge`, which writes base + adapter as one model directory.

import ArgumentParser
import Foundation
import TaipanCheckpoint
import TaipanNN

/// The model directory `directory`, with the PEFT adapter in `adapter` (if any) merged into
/// its weights: what the base computes with the adapter, as one model.
func loadModel(_ directory: String, adapter: String?) throws -> any LanguageModel {
    let model = try loadLanguageModel(directory: directory)
    if let adapter {
        try model.loadAdapter(directory: adapter)
        model.mergeAdapters()
    }
    return model
}

extension ModelCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model directory holding a base model with a LoRA adapter merged into its weights.")

        @Option(help: "The base model directory the adapter was trained on.") var model: String
        @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors), e.g. a LoRA run's checkpoint.") var adapter: String
        @Option(help: "The directory to write config.json and model.safetensors into (must not hold a model).") var out: String

        func run() throws {
            try refuseExistingModel(in: out)
            let merged = try loadModel(model, adapter: adapter)
            try merged.save(directory: out)
            print("\(out): \(model) with the adapter \(adapter) merged in (\(merged.parameterCount.formatted()) parameters)")
        }
    }
}

/// Refuses an output directory that already holds a model, so that nothing is overwritten.
func refuseExistingModel(in directory: String) throws {
    if FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(singleWeightsFileName)) {
        throw ValidationError("\(directory) already holds a model; choose another --out")
    }
}
