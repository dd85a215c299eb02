import Foundation
import Testing
import TaipanNN
import TaipanOptim
import TaipanTensor
@testable import TaipanTrain

@Suite struct TrainingStepTests {
    /// A tiny model (V = 12) and a step of `batchSize` rows a micro-batch, `accumulation` micro-batches.
    static func step(batchSize: Int, accumulation: Int) -> TrainingStep {
        var generator = SeededGenerator(seed: 11)
        let model = MambaLM(config: MambaConfig(vocabSize: 12, hiddenSize: 8, stateSize: 4, layerCount: 1), generator: &generator)
        let optimizer = AdamW(parameters: model.namedParameters, hyperparameters: .init(), noDecay: [])
        return TrainingStep(
            model: model, optimizer: optimizer, trainable: model.parameters, batchSize: batchSize, length: 4,
            accumulation: accumulation, gradientClip: 0)
    }

    // Two rows of L + 1 = 5 ids: row 0 counts its last id only (a long prompt), row 1 all but its first.
    static let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    static let counted = [false, false, false, false, true, false, true, true, true, true]

    @Test func targetsOutsideTheMaskAreIgnored() {
        let (inputs, targets) = TrainingStep.split(Self.tokens, counted: Self.counted, batchSize: 2, length: 4)
        #expect(inputs == [3, 1, 4, 1, 9, 2, 6, 5])
        #expect(targets == [-100, -100, -100, 5, 2, 6, 5, 3])
        #expect(TrainingStep.split(Self.tokens, batchSize: 2, length: 4).targets == [1, 4, 1, 5, 2, 6, 5, 3])
        // Other ids to read (the last of each row unused) replace the inputs, never the targets.
        let read: [Int32] = [7, 7, 4, 0, -1, 9, 0, 0, 5, -1]
        let blanked = TrainingStep.split(Self.tokens, counted: Self.counted, inputs: read, batchSize: 2, length: 4)
        #expect(blanked.inputs == [7, 7, 4, 0, 9, 0, 0, 5])
        #expect(blanked.targets == [-100, -100, -100, 5, 2, 6, 5, 3])
    }

    /// The step's loss is the mean cross-entropy of the counted targets alone, computed here
    /// from the logits in Float64: log Σ exp(logits) − logit of the target, over 5 targets.
    @Test func theLossCountsOnlyCompletionTargets() throws {
        let step = Self.step(batchSize: 2, accumulation: 1)
        var stop = false
        let loss = try step.accumulateGradients(stop: &stop) { (Self.tokens, Self.counted) }
        let (inputs, targets) = TrainingStep.split(Self.tokens, counted: Self.counted, batchSize: 2, length: 4)
        let logits = try withoutGradients { try step.model.forward(ids: inputs, batch: 2, length: 4).logits.values }
        var sum = 0.0, count = 0
        for (position, target) in targets.enumerated() where target >= 0 {
            let row = logits[(position * 12)..<((position + 1) * 12)].map(Double.init)
            let largest = row.max() ?? 0
            sum += largest + Foundation.log(row.map { Foundation.exp($0 - largest) }.reduce(0, +)) - row[Int(target)]
            count += 1
        }
        #expect(count == 5)
        #expect(abs(loss - sum / 5) < 1e-5 * sum / 5, "step \(loss), reference \(sum / 5)")
        let unmasked = try step.accumulateGradients { Self.tokens }
        #expect(abs(unmasked - loss) > 1e-3)
    }

    /// The divisor is the counted targets of the whole step: two micro-batches of one row
    /// (1 and 4 counted targets) give the gradient of one batch of both rows (5).
    @Test func microBatchesShareOneDivisor() throws {
        let whole = Self.step(batchSize: 2, accumulation: 1), split = Self.step(batchSize: 1, accumulation: 2)
        var stop = false
        let lossWhole = try whole.accumulateGradients(stop: &stop) { (Self.tokens, Self.counted) }
        var next = 0
        let lossSplit = try split.accumulateGradients(stop: &stop) {
            defer { next += 1 }
            return (Array(Self.tokens[(5 * next)..<(5 * next + 5)]), Array(Self.counted[(5 * next)..<(5 * next + 5)]))
        }
        #expect(abs(lossWhole - lossSplit) < 1e-6 * lossWhole)
        for (a, b) in zip(whole.model.parameters, split.model.parameters) {
            let x = try #require(a.grad?.values), y = try #require(b.grad?.values)
            let scale = y.map(abs).max() ?? 0
            #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
        }
    }
}
