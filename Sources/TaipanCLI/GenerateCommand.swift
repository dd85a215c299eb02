// GenerateCommand.swift — `taipan generate`: continue a prompt with a model, greedily or by
// seeded sampling. A text prompt's continuation streams to standard output as it is decoded,
// token by token (in whole characters); a prompt of ids prints the ids of prompt and
// continuation on one line, as scripts read them, and the text after it when a tokenizer is
// given. A text prompt gets the tokenizer's special tokens (Llama's begin-of-text token), and
// the text printed leaves special tokens out, as the Hugging Face text-generation pipeline
// does. A model directory holding a `tokenizer.json` (as training checkpoints do) needs no
// --tokenizer.

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
    @Option(help: "The prompt as comma-separated token ids: prints the ids of prompt and continuation on one line (then the text, given --tokenizer).") var ids: String?
    @Option(help: "The prompt as text: prints the text of prompt and continuation as it is decoded.") var prompt: String?
    @Option(help: "A tokenizer.json (or 'byte') to encode --prompt and decode the output (default for --prompt: the model directory's tokenizer.json).") var tokenizer: String?
    @Flag(help: "With --prompt, also print the ids of prompt and continuation, on a line after the text.") var printIds = false
    @Option(help: "The most tokens to generate.") var maxNewTokens = 32
    @Option(help: "0 for greedy decoding; otherwise the sampling temperature.") var temperature: Float = 0
    @Option(help: "Sample among the k most likely tokens only (0: all).") var topK = 0
    @Option(help: "Sample among the most likely tokens holding this much probability (1: all).") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Option(help: "Comma-separated ids that end generation (default: the model's eos_token_id, if any).") var stop: String?
    @Option(help: "How decoding stores the weight matrices: float32 (exact), bfloat16 (half the bytes a token, about twice as fast; logits differ at ~1e-3) or int8 (a quarter of the bytes, a scale per row; logits differ at ~1e-2).")
    var weights: DecodingWeights = .float32
    @Option(help: "A PEFT LoRA adapter directory to apply (merged into the weights).") var adapter: String?

    func validate() throws {
        guard (ids == nil) != (prompt == nil) else { throw ValidationError("give exactly one of --ids and --prompt") }
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be at least 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be at least 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be at least 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let network = try loadModel(model, adapter: adapter)
        let textTokenizer = try loadTokenizer()
        let promptIds: [Int32]
        if let ids {
            promptIds = try Self.parseIds(ids, option: "--ids")
        } else if let prompt, let textTokenizer {
            promptIds = textTokenizer.encode(prompt)
        } else {
            throw InputError(description: "--prompt needs --tokenizer: \(model) holds no \(Self.tokenizerFileName)")
        }
        if let bad = promptIds.first(where: { $0 < 0 || Int($0) >= network.vocabularySize }) {
            throw ValidationError("prompt id \(bad) is outside the model's vocabulary 0..<\(network.vocabularySize)")
        }
        let stopTokens = try stop.map { Set(try Self.parseIds($0, option: "--stop")) }
            ?? Set(network.configuration.eosTokenId.map { [Int32($0)] } ?? [])
        var generator = SeededGenerator(seed: seed)
        let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP, stopTokens: stopTokens, maxNewTokens: maxNewTokens)
        guard ids == nil, let textTokenizer else {
            let generated = try network.generate(prompt: promptIds, options: options, weights: weights, generator: &generator)
            write((promptIds + generated).map(String.init).joined(separator: ",") + "\n")
            if let textTokenizer { write(try textTokenizer.decode(promptIds + generated, skipSpecialTokens: true) + "\n") }
            return
        }
        var stream = StreamingDecoder(tokenizer: textTokenizer, skipSpecialTokens: true)
        write(try stream.append(promptIds))
        // The callback cannot throw: the first decoding error stops the printing and is thrown after.
        var failure: (any Error)?
        let generated = try network.generate(prompt: promptIds, options: options, weights: weights, generator: &generator) { id in
            guard failure == nil else { return }
            do { write(try stream.append([id])) } catch { failure = error }
        }
        if let failure { throw failure }
        write(try stream.finish() + "\n")
        if printIds { write((promptIds + generated).map(String.init).joined(separator: ",") + "\n") }
    }

    static let tokenizerFileName = "tokenizer.json"

    /// The tokenizer of --tokenizer; for a text prompt without one, the model directory's
    /// `tokenizer.json` if it has one.
    private func loadTokenizer() throws -> (any Tokenizer)? {
        if let tokenizer { return try TokenizerOptions.parse(["--tokenizer", tokenizer]).load() }
        let own = (model as NSString).appendingPathComponent(Self.tokenizerFileName)
        guard prompt != nil, FileManager.default.fileExists(atPath: own) else { return nil }
        return try LoadedTokenizer(named: own).tokenizer
    }

    /// Writes `text` to standard output at once (unbuffered), so that each token shows as it comes.
    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardOutput.write(Data(text.utf8))
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
