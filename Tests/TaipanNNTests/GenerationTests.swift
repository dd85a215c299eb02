import Foundation
import Testing
import TaipanTestSupport
import TaipanTensor
@testable import TaipanNN

@Suite(.exclusiveThreads) struct GenerationTests {
    static func model(seed: UInt64 = 5) -> MambaLM {
        var generator = SeededGenerator(seed: seed)
        let config = MambaConfig(vocabSize: 41, hiddenSize: 24, stateSize: 6, layerCount: 2, convKernel: 4, useBias: true, tieWordEmbeddings: false)
        return MambaLM(config: config, generator: &generator)
    }

    @Test func greedyStopsAtAStopTokenAndRespectsTheLength() throws {
        let model = Self.model()
        var generator = SeededGenerator(seed: 0)
        let free = try model.generate(prompt: [1, 2], options: SamplingOptions(maxNewTokens: 8), generator: &generator)
        #expect(free.count == 8)
        let stopped = try model.generate(
            prompt: [1, 2], options: SamplingOptions(stopTokens: [free[2]], maxNewTokens: 8), generator: &generator)
        #expect(stopped == Array(free.prefix(through: free.firstIndex(of: free[2])!)))
        #expect(try model.generate(prompt: [1], options: SamplingOptions(maxNewTokens: 0), generator: &generator).isEmpty)
        #expect(throws: TensorError.self) { try model.generate(prompt: [], options: SamplingOptions(), generator: &generator) }
    }

    @Test func samplingIsSeededAndTopKOneIsGreedy() throws {
        let model = Self.model()
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9), g3 = SeededGenerator(seed: 9)
        let options = SamplingOptions(temperature: 1.5, topK: 10, topP: 0.9, maxNewTokens: 12)
        let a = try model.generate(prompt: [4], options: options, generator: &g1)
        let b = try model.generate(prompt: [4], options: options, generator: &g2)
        #expect(a == b)
        let greedy = try model.generate(prompt: [4], options: SamplingOptions(maxNewTokens: 12), generator: &g3)
        let topOne = try model.generate(prompt: [4], options: SamplingOptions(temperature: 1, topK: 1, maxNewTokens: 12), generator: &g3)
        #expect(greedy == topOne)
        // bfloat16 decoding goes through the same loop.
        var g4 = SeededGenerator(seed: 9)
        #expect(try model.generate(prompt: [4], options: SamplingOptions(maxNewTokens: 12), weights: .bfloat16, generator: &g4).count == 12)
    }

    @Test func choiceFollowsTopKAndTopP() {
        // Probabilities ∝ e^logit: 0.6439, 0.2369, 0.0871, 0.0321.
        let logits: [Float] = [2, 1, 0, -1]
        var generator = SeededGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<20_000 {
            counts[Int(MambaLM.choose(from: logits, options: SamplingOptions(temperature: 1, topP: 0.85), generator: &generator))] += 1
        }
        // top-p 0.85 keeps the first two (0.6439 + 0.2369 ≥ 0.85), renormalised: 0.731, 0.269.
        #expect(counts[2] == 0 && counts[3] == 0)
        #expect(abs(Double(counts[0]) / 20_000 - 0.7311) < 0.015)
        for _ in 0..<200 {
            #expect(MambaLM.choose(from: logits, options: SamplingOptions(temperature: 1, topK: 1), generator: &generator) == 0)
        }
    }
}
