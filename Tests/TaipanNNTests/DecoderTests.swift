import Foundation
import Testing
import TaipanTestSupport
import TaipanTensor
@testable import TaipanNN

@Suite(.exclusiveThreads) struct DecoderTests {
    static let ids: [Int32] = [3, 17, 40, 0, 22, 9, 9, 31, 5, 12, 1, 30]

    static func model(seed: UInt64 = 5, tied: Bool = false, bias: Bool = true) -> MambaLM {
        var generator = SeededGenerator(seed: seed)
        let config = MambaConfig(vocabSize: 41, hiddenSize: 24, stateSize: 6, layerCount: 2, convKernel: 4, useBias: bias, tieWordEmbeddings: tied)
        return MambaLM(config: config, generator: &generator)
    }

    /// Logits (L, V) of the parallel forward over `ids`.
    static func parallelLogits(_ model: MambaLM, _ ids: [Int32]) throws -> [[Float]] {
        let logits = try withoutGradients { try model.forward(ids: ids, batch: 1, length: ids.count).logits }
        return (0..<ids.count).map { t in (0..<model.config.vocabSize).map { logits[0, t, $0] } }
    }

    /// The matrices a decoder keeps in its own storage: the head and every projection.
    static func decodedMatrices(_ model: MambaLM) -> [Tensor] {
        [model.headWeight] + model.layers.flatMap { layer in
            let mixer = layer.mixer
            return [mixer.inProjection.weight, mixer.xProjection!.weight, mixer.timeStepProjection!.weight, mixer.outProjection.weight]
        }
    }

    /// Prefills `promptLength` ids, steps through the rest, and returns the largest
    /// |decoder − expected| / max|expected| over the positions from the prompt's last on.
    static func worstError(_ decoder: Decoder, _ ids: [Int32], promptLength: Int, expected: [[Float]]) throws -> Float {
        var logits = try decoder.prefill(Array(ids.prefix(promptLength)))
        var worst: Float = 0
        for position in (promptLength - 1)..<ids.count {
            let scale = expected[position].map(abs).max()!
            worst = max(worst, zip(logits, expected[position]).map { abs($0 - $1) }.max()! / scale)
            if position + 1 < ids.count { logits = try decoder.step(ids[position + 1]) }
        }
        return worst
    }

    @Test(arguments: [1, 2, 3, 9])
    func float32StepsReproduceTheParallelForward(promptLength: Int) throws {
        for (tied, bias) in [(false, true), (true, false)] {
            let model = Self.model(tied: tied, bias: bias)
            let error = try Self.worstError(Decoder(model: model), Self.ids, promptLength: promptLength, expected: Self.parallelLogits(model, Self.ids))
            #expect(error <= 1e-5, "tied \(tied), bias \(bias): relative error \(error)")
        }
    }

    @Test(arguments: [1, 4])
    func bfloat16StepsMatchTheForwardWhenTheMatricesAreBFloat16Already(promptLength: Int) throws {
        // Round every matrix the decoder stores in bfloat16 in place first: then both paths use
        // the same weight values and only the order of summation differs.
        for (tied, bias) in [(false, true), (true, false)] {
            let model = Self.model(seed: 8, tied: tied, bias: bias)
            for matrix in Self.decodedMatrices(model) { for i in 0..<matrix.count { matrix.pointer[i] = bfloat16Rounded(matrix.pointer[i]) } }
            let decoder = Decoder(model: model, weights: .bfloat16)
            let error = try Self.worstError(decoder, Self.ids, promptLength: promptLength, expected: Self.parallelLogits(model, Self.ids))
            #expect(error <= 1e-5, "tied \(tied), bias \(bias): relative error \(error)")
        }
    }

    @Test func bfloat16StaysCloseToFloat32() throws {
        let model = Self.model(seed: 8)
        let error = try Self.worstError(
            Decoder(model: model, weights: .bfloat16), Self.ids, promptLength: 2, expected: Self.parallelLogits(model, Self.ids))
        // About 2⁻⁹ relative per weight, partly averaging out over the products.
        #expect(error > 0 && error <= 2e-2, "relative error \(error)")
    }

    @Test(arguments: [1, 4])
    func int8StepsMatchTheForwardWhenTheMatricesAreQuantisedAlready(promptLength: Int) throws {
        // Replace every matrix the decoder stores in int8 by its quantised values first: then
        // both paths use the same weights (quantising them again gives the same integers and
        // scales, up to the rounding of the scale), and what differs is the order of summation
        // and the int8 product's rounding of its inputs to 16 bits per block (Int8Matrix.swift):
        // up to half of 2⁻¹⁵ of a block's largest input, 5e-5 to 9e-5 of the logits here, where
        // the weights' own rounding gives about 1e-2 (int8StaysCloseToFloat32).
        for (tied, bias) in [(false, true), (true, false)] {
            let model = Self.model(seed: 8, tied: tied, bias: bias)
            for matrix in Self.decodedMatrices(model) {
                let quantised = Int8Matrix(matrix), columns = matrix.shape[1]
                for i in 0..<matrix.count { matrix.pointer[i] = quantised[i / columns, i % columns] }
            }
            let decoder = Decoder(model: model, weights: .int8)
            let error = try Self.worstError(decoder, Self.ids, promptLength: promptLength, expected: Self.parallelLogits(model, Self.ids))
            #expect(error <= 2e-4, "tied \(tied), bias \(bias): relative error \(error)")
        }
    }

    @Test func int8StaysCloseToFloat32() throws {
        let model = Self.model(seed: 8)
        let error = try Self.worstError(
            Decoder(model: model, weights: .int8), Self.ids, promptLength: 2, expected: Self.parallelLogits(model, Self.ids))
        // Up to half a step of max|w|/127 per weight, partly averaging out over the products.
        #expect(error > 0 && error <= 5e-2, "relative error \(error)")
    }

    @Test func weightBytesCountEveryMatrixOnce() {
        let model = Self.model()  // D 24, E 48, N 6, R 2, V 41, untied
        let perLayer = 96 * 24 + 14 * 48 + 48 * 2 + 24 * 48
        #expect(Decoder(model: model).weightBytesPerToken == 4 * (2 * perLayer + 41 * 24))
        // bfloat16: rows padded to 32 columns: in 96×32, x 14×64, dt 48×32, out 24×64, head 41×32.
        let padded = 96 * 32 + 14 * 64 + 48 * 32 + 24 * 64
        #expect(Decoder(model: model, weights: .bfloat16).weightBytesPerToken == 2 * (2 * padded + 41 * 32))
        // int8: the same padding, a byte each, plus a float32 scale per row.
        let rows = 96 + 14 + 48 + 24
        #expect(Decoder(model: model, weights: .int8).weightBytesPerToken == 2 * (padded + 4 * rows) + 41 * 32 + 4 * 41)
    }

    @Test func misuseThrows() throws {
        let decoder = Decoder(model: Self.model())
        #expect(throws: TensorError.self) { try decoder.step(1) }
        #expect(throws: TensorError.self) { try decoder.prefill([]) }
        _ = try decoder.prefill([1, 2])
        #expect(throws: TensorError.self) { try decoder.step(41) }
        #expect(throws: TensorError.self) { try decoder.step(-1) }
    }
}
