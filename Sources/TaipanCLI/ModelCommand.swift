// ModelCommand.swift — `taipan model info|init|forward|convert`: inspect, create, run and convert
// model directories (Hugging Face layout: config.json + model.safetensors; the original
// mamba_ssm releases' config.json + pytorch_model.bin are read too).

import ArgumentParser
import Foundation
import TaipanCheckpoint
import TaipanNN
import TaipanTensor

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Inspect, create and run model directories.",
        subcommands: [Info.self, Initialize.self, Forward.self, Convert.self, Merge.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model's config, parameter count and tensors.")

        @Argument(help: "A model directory (config.json + model.safetensors or pytorch_model.bin).") var directory: String

        func run() throws {
            let model = try loadLanguageModel(directory: directory)
            print("\(directory): \(model.configuration.summary)")
            print("parameters: \(model.parameterCount.formatted()) (\(String(format: "%.2f", Double(model.parameterCount) / 1e6))M)")
            let width = model.namedParameters.map(\.name.count).max() ?? 0
            for (name, tensor) in model.namedParameters {
                let padded = name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("  \(padded)  \(describeShape(tensor.shape).padding(toLength: 16, withPad: " ", startingAt: 0))  \(tensor.count)")
            }
        }
    }

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Write a freshly initialised model (mamba_ssm's recipe) for a config.json.")

        @Option(help: "A Hugging Face or mamba_ssm config.json.") var config: String
        @Option(help: "The directory to write config.json and model.safetensors into (must not hold a model).") var out: String
        @Option(help: "Seed of the initialisation.") var seed: UInt64 = 0

        func run() throws {
            let configuration = try LanguageModelConfig.read(contentsOf: config)
            try refuseExistingModel(in: out)
            var generator = SeededGenerator(seed: seed)
            let model = configuration.makeModel(generator: &generator)
            try model.save(directory: out)
            print("\(out): \(model.parameterCount.formatted()) parameters, seed \(seed)")
        }
    }

    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a forward (and backward) pass on input_ids and write logits, loss, hidden states (and gradients).")

        @Option(help: "A model directory.") var model: String
        @Option(help: "A safetensors file with an int64 input_ids (B, L) tensor.") var input: String
        @Option(help: "The safetensors file to write.") var output: String
        @Flag(help: "Also write grad.NAME = d loss / d parameter for every parameter.") var grads = false
        @Option(help: "A PEFT LoRA adapter directory to apply (merged into the weights).") var adapter: String?

        func run() throws {
            let network = try loadModel(model, adapter: adapter)
            try network.writeForwardPass(inputPath: input, outputPath: output, gradients: grads)
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write any model directory Taipan reads (e.g. config.json + pytorch_model.bin of a mamba_ssm release) as a Hugging Face directory (config.json + model.safetensors, float32).")

        @Argument(help: "The model directory to read.") var input: String
        @Argument(help: "The directory to write config.json and model.safetensors into (must not hold a model).") var output: String

        func run() throws {
            for name in [configFileName, singleWeightsFileName] where FileManager.default.fileExists(atPath: (output as NSString).appendingPathComponent(name)) {
                throw ValidationError("\(output) already holds \(name); choose another output directory")
            }
            let model = try loadLanguageModel(directory: input)
            if let mamba = model as? MambaLM, !mamba.config.isStandardMamba {
                throw ValidationError("\(input) holds an \(mamba.config.mixer == .lti ? "LTI" : "S6") mixer\(mamba.config.gated ? "" : " without the gate"), which transformers' MambaForCausalLM cannot run; it stays a Taipan model directory (model_type \"\(MambaConfig.variantModelType)\")")
            }
            try model.save(directory: output)
            print("\(output): \(model.parameterCount.formatted()) parameters from \(input)")
        }
    }
}
