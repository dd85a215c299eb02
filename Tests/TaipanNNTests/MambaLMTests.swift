import Foundation
import Testing
import TaipanTensor
@testable import TaipanNN

@Suite struct MambaLMTests {
    static let configs: [MambaConfig] = [
        MambaConfig(vocabSize: 37, hiddenSize: 24, stateSize: 5, layerCount: 2, convKernel: 3),
        MambaConfig(vocabSize: 50, hiddenSize: 16, stateSize: 8, layerCount: 3, expand: 3, timeStepRank: 7,
                    useBias: true, useConvBias: false, tieWordEmbeddings: false, rescalePrenormResidual: true),
    ]

    @Test(arguments: configs)
    func parametersHaveTheHuggingFaceNamesAndShapes(config: MambaConfig) {
        var generator = SeededGenerator(seed: 1)
        let model = MambaLM(config: config, generator: &generator)
        #expect(model.namedParameters.map(\.name) == config.parameterShapes().map(\.name))
        #expect(model.namedParameters.map(\.tensor.shape) == config.parameterShapes().map(\.shape))
        #expect(model.parameters.allSatisfy { $0.requiresGrad })
    }

    @Test func initialisationFollowsMambaSSM() {
        let config = MambaConfig(vocabSize: 64, hiddenSize: 64, stateSize: 16, layerCount: 4, initializerRange: 0.02)
        var generator = SeededGenerator(seed: 2)
        let model = MambaLM(config: config, generator: &generator)
        let mixer = model.layers[0].mixer
        // A_log = log(1…N) in every channel; D = 1.
        for e in [0, 77] {
            for n in 0..<16 { #expect(mixer.aLog[e, n] == Float(Foundation.log(Double(n + 1)))) }
        }
        #expect(mixer.d.values.allSatisfy { $0 == 1 })
        // softplus(dt bias) lies in [time_step_min, time_step_max].
        for bias in mixer.timeStepProjection!.bias!.values {
            let step = Foundation.log1p(Foundation.exp(Double(bias)))
            #expect(step >= 0.001 * 0.999 && step <= 0.1 * 1.001)
        }
        // dt_proj weights uniform in ±rank^−½ (rank 4 → 0.5).
        #expect(mixer.timeStepProjection!.weight.values.allSatisfy { abs($0) <= 0.5 })
        // Embeddings normal(0, initializer_range).
        let values = model.embeddings.weight.values.map(Double.init)
        let std = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(std - 0.02) < 0.001)
        // Linear weights uniform in ±1/√fan_in, norms at one.
        #expect(mixer.inProjection.weight.values.allSatisfy { abs($0) <= 1 / 8 })
        #expect(model.finalNorm.weight.values.allSatisfy { $0 == 1 })
    }

    @Test func prenormResidualRescalingShrinksOutProjection() {
        var plain = SeededGenerator(seed: 3), rescaled = SeededGenerator(seed: 3)
        let config = MambaConfig(vocabSize: 16, hiddenSize: 8, layerCount: 4)
        var scaledConfig = config
        scaledConfig.rescalePrenormResidual = true
        let a = MambaLM(config: config, generator: &plain), b = MambaLM(config: scaledConfig, generator: &rescaled)
        for (x, y) in zip(a.layers[0].mixer.outProjection.weight.values, b.layers[0].mixer.outProjection.weight.values) {
            #expect(abs(x / 2 - y) < 1e-7)  // 1/√4
        }
    }

    @Test func lossIsTheMeanNextTokenCrossEntropy() throws {
        var generator = SeededGenerator(seed: 4)
        let model = MambaLM(config: Self.configs[0], generator: &generator)
        let ids: [Int32] = [1, 5, 9, 2, 7, 3, 3, 0]
        let logits = try model.forward(ids: ids, batch: 2, length: 4).logits
        var total = 0.0
        for b in 0..<2 {
            for t in 0..<3 {
                let row = (0..<37).map { Double(logits[b, t, $0]) }
                let top = row.max()!
                total += top + Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +)) - row[Int(ids[b * 4 + t + 1])]
            }
        }
        #expect(abs(Double(try model.loss(ids: ids, batch: 2, length: 4).item) - total / 6) < 1e-5)
        #expect(throws: TensorError.self) { try model.loss(ids: [1, 2, 3], batch: 2, length: 2) }
        #expect(throws: TensorError.self) { try model.loss(ids: [1, 200], batch: 1, length: 2) }
    }
}

extension MambaConfig: CustomTestStringConvertible {
    public var testDescription: String { "D\(hiddenSize) N\(stateSize) L\(layerCount) bias \(useBias) tied \(tieWordEmbeddings)" }
}
