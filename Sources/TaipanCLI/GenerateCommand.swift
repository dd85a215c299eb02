// GenerateCommand.swift — `taipan generate`: continue a prompt with a model, greedily or by
// seeded sampling, printing ids (and text when a tokenizer is given).

import ArgumentParser
import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanNN
import TaipanTensor
import TaipanTokenizers

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Continue a prompt with a model (recurrent decoding).")

    @Option(help: "A model directory.") var model: String
    @Option(help: "The prompt as comma-separated token ids.") var ids: String?
    @Option(help: "The prompt as text (needs --tokenizer).") var prompt: String?
    @Option(help: "A tokenizer.json (or 'byte') to encode --prompt and decode the output.") var tokenizer: String?
    @Option(help: "The most tokens to generate.") var maxNewTokens = 32
    @Option(help: "0 for greedy decoding; otherwise the sampling temperature.") var temperature: Float = 0
    @Option(help: "Sample among the k most likely tokens only (0: all).") var topK = 0
    @Option(help: "Sample among the most likely tokens holding this much probability (1: all).") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Option(help: "Comma-separated ids that end generation (default: the model's eos_token_id, if any).") var stop: String?
    @Option(help: "How decoding stores the weight matrices: float32 (exact), bfloat16 (half the bytes a token, about twice as fast; logits differ at ~1e-3) or int8 (a quarter of the bytes, a scale per row; logits differ at ~1e-2).")
    var weights: DecodingWeights = .float32

    func validate() throws {
        guard (ids == nil) != (prompt == nil) else { throw ValidationError("give exactly one of --ids and --prompt") }
        if prompt != nil && tokenizer == nil { throw ValidationError("--prompt needs --tokenizer") }
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be at least 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be at least 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be at least 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let network = try MambaLM.load(directory: model)
        let textTokenizer = try tokenizer.map { try TokenizerOptions.parse(["--tokenizer", $0]).load() }
        let promptIds: [Int32]
        if let ids {
            promptIds = try Self.parseIds(ids, option: "--ids")
        } else {
            promptIds = textTokenizer!.encode(prompt!)
        }
        if let bad = promptIds.first(where: { $0 < 0 || Int($0) >= network.config.vocabSize }) {
            throw ValidationError("prompt id \(bad) is outside the model's vocabulary 0..<\(network.config.vocabSize)")
        }
        let stopTokens = try stop.map { Set(try Self.parseIds($0, option: "--stop")) }
            ?? Set(network.config.eosTokenId.map { [Int32($0)] } ?? [])
        var generator = SeededGenerator(seed: seed)
        let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP, stopTokens: stopTokens, maxNewTokens: maxNewTokens)
        let generated = try network.generate(prompt: promptIds, options: options, weights: weights, generator: &generator)
        print((promptIds + generated).map(String.init).joined(separator: ","))
        if let textTokenizer { print(try textTokenizer.decode(promptIds + generated)) }
    }

    static func parseIds(_ text: String, option: String) throws -> [Int32] {
        try text.split(separator: ",").map { field in
            guard let id = Int32(field.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(option): \"\(field)\" is not a token id")
            }
            return id
        }
    }
}

extension DecodingWeights: ExpressibleByArgument {}
