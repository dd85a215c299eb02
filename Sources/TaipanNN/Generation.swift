// Generation.swift — text generation with the recurrent form of Mamba and Mamba-2 (see
// Decoder.swift and Mamba2Decoder.swift):
// memory stays constant per token. Greedy decoding, or sampling with temperature, top-k and
// top-p from the seeded generator.

import Foundation
import TaipanTensor

/// How the next token is chosen from the logits.
public struct SamplingOptions: Sendable {
    /// 0 picks the most likely token (greedy); otherwise logits are divided by it.
    public var temperature: Float = 0
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float = 1
    /// Generation stops after emitting one of these ids (it is included in the output).
    public var stopTokens: Set<Int32> = []
    /// The most tokens to generate after the prompt.
    public var maxNewTokens: Int = 32

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, stopTokens: Set<Int32> = [], maxNewTokens: Int = 32) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.stopTokens = stopTokens
        self.maxNewTokens = maxNewTokens
    }
}

extension LanguageModel {
    /// Generates up to `options.maxNewTokens` ids after `prompt` (one sequence) and returns
    /// only the new ids. `generator` drives sampling; greedy decoding never touches it.
    /// `weights` chooses how the decoder stores its matrices (see `DecodingWeights`).
    public func generate(
        prompt: [Int32], options: SamplingOptions, weights: DecodingWeights = .float32, generator: inout SeededGenerator,
        onToken: (Int32) -> Void = { _ in }
    ) throws(TensorError) -> [Int32] {
        guard !prompt.isEmpty else { throw .invalidArgument("generate: the prompt is empty") }
        guard options.maxNewTokens >= 0, options.temperature >= 0, options.topK >= 0, options.topP > 0, options.topP <= 1 else {
            throw .invalidArgument(
                "generate: need maxNewTokens ≥ 0, temperature ≥ 0, topK ≥ 0 and 0 < topP ≤ 1 (got \(options.maxNewTokens), \(options.temperature), \(options.topK), \(options.topP))")
        }
        let decoder = makeDecoder(weights: weights)
        var logits = try decoder.prefill(prompt)
        var generated: [Int32] = []
        while generated.count < options.maxNewTokens {
            let next = Self.choose(from: logits, options: options, generator: &generator)
            generated.append(next)
            onToken(next)
            if options.stopTokens.contains(next) || generated.count == options.maxNewTokens { break }
            logits = try decoder.step(next)
        }
        return generated
    }

    /// Picks the next id from `logits`: the argmax (first on ties) for temperature 0,
    /// otherwise a sample from the tempered softmax restricted by top-k and top-p.
    public static func choose(from logits: [Float], options: SamplingOptions, generator: inout SeededGenerator) -> Int32 {
        if options.temperature == 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var order = Array(logits.indices).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if options.topK > 0 { order = Array(order.prefix(options.topK)) }
        let top = Double(logits[order[0]])
        var weights = order.map { Foundation.exp((Double(logits[$0]) - top) / Double(options.temperature)) }
        let total = weights.reduce(0, +)
        if options.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count {
                cumulative += weights[keep] / total
                keep += 1
                if cumulative >= Double(options.topP) { break }
            }
            order = Array(order.prefix(keep))
            weights = Array(weights.prefix(keep))
        }
        let draw = generator.nextOpenUniform() * weights.reduce(0, +)
        var cumulative = 0.0
        for (index, weight) in zip(order, weights) {
            cumulative += weight
            if draw <= cumulative { return Int32(index) }
        }
        return Int32(order[order.count - 1])
    }
}
