import Testing
import TaipanTensor
import TaipanTestSupport
@testable import TaipanNN

@Suite struct LoRATests {
    /// y = x·Wᵀ + b + s·x·Aᵀ·Bᵀ, with gradients of x, A and B against finite differences in
    /// Float64 (W and b frozen), on odd sizes and rank 1.
    @Test(arguments: [(3, 5, 4, 2), (1, 7, 3, 1), (4, 2, 6, 3)])
    func adapterForwardAndGradients(rows: Int, inputs: Int, outputs: Int, rank: Int) {
        let weight = randomValues([outputs, inputs], seed: 1), bias = randomValues([outputs], seed: 2)
        let scaling: Float = 1.75
        checkGradients(
            [randomValues([rows, inputs], seed: 3), randomValues([rank, inputs], seed: 4), randomValues([outputs, rank], seed: 5)],
            shapes: [[rows, inputs], [rank, inputs], [outputs, rank]]
        ) { tensors in
            let layer = Linear(weight: try! Tensor(weight, shape: [outputs, inputs]), bias: try! Tensor(bias, shape: [outputs]))
            layer.adapter = LowRankAdapter(a: tensors[1], b: tensors[2], scaling: scaling, dropout: 0)
            return layer(tensors[0])
        } reference: { r in
            let (x, a, b) = (r[0], r[1], r[2])
            var values = [Double](repeating: 0, count: rows * outputs)
            for i in 0..<rows {
                for o in 0..<outputs {
                    var sum = Double(bias[o])
                    for k in 0..<inputs { sum += x.values[i * inputs + k] * Double(weight[o * inputs + k]) }
                    for q in 0..<rank {
                        var ax = 0.0
                        for k in 0..<inputs { ax += a.values[q * inputs + k] * x.values[i * inputs + k] }
                        sum += Double(scaling) * b.values[o * rank + q] * ax
                    }
                    values[i * outputs + o] = sum
                }
            }
            return Reference(shape: [rows, outputs], values: values)
        }
    }

    /// A fresh adapter starts at zero (B = 0); merging gives the layer what layer + adapter
    /// computed.
    @Test func freshAdaptersChangeNothingAndMergingKeepsTheOutput() throws {
        var generator = SeededGenerator(seed: 7)
        let config = MambaConfig(vocabSize: 40, hiddenSize: 24, stateSize: 4, layerCount: 2, timeStepRank: 3)
        let model = MambaLM(config: config, generator: &generator)
        let ids: [Int32] = (0..<18).map { Int32($0 * 7 % 40) }
        let before = try model.forward(ids: ids, batch: 2, length: 9).logits.values
        let settings = LoRASettings(rank: 3, alpha: 6, targetModules: ["in_proj", "mixer.x_proj", "dt_proj", "out_proj"])
        let attached = model.attachAdapters(settings, generator: &generator)
        #expect(attached.count == 8 && model.adapterParameters.count == 16)
        #expect(model.adapterParameters.first?.name == "backbone.layers.0.mixer.in_proj.lora_A.weight")
        #expect(try model.forward(ids: ids, batch: 2, length: 9).logits.values == before)
        for adapter in model.adapters {
            for index in 0..<adapter.b.count { adapter.b.pointer[index] = generator.nextUniform() - 0.5 }
        }
        let adapted = try model.forward(ids: ids, batch: 2, length: 9).logits.values
        #expect(relativeError(adapted, before.map(Double.init)) > 1e-2)
        let copy = model.mergedCopy()
        #expect(copy.adapters.isEmpty && model.adapters.count == 8)
        #expect(relativeError(try copy.forward(ids: ids, batch: 2, length: 9).logits.values, adapted.map(Double.init)) < 1e-5)
        model.mergeAdapters()
        #expect(model.adapters.isEmpty)
        #expect(relativeError(try model.forward(ids: ids, batch: 2, length: 9).logits.values, adapted.map(Double.init)) < 1e-5)
    }

    @Test func targetsMatchWholeNamesOrLastParts() {
        #expect(LoRASettings.matches("backbone.layers.0.mixer.in_proj", ["in_proj"]))
        #expect(LoRASettings.matches("backbone.layers.0.mixer.in_proj", ["layers.0.mixer.in_proj"]))
        #expect(!LoRASettings.matches("backbone.layers.0.mixer.in_proj", ["proj"]))
        #expect(!LoRASettings.matches("backbone.layers.0.mixer.x_proj", ["dt_proj", "in_proj"]))
        #expect(LoRASettings(rank: 4, alpha: 8, targetModules: []).scaling == 2)
        #expect(LoRASettings(rank: 4, alpha: 8, targetModules: [], useRSLoRA: true).scaling == 4)
    }

    /// Dropout keeps about 1 − p of the inputs, scaled by 1/(1 − p), draws the same mask for the
    /// same key, another for another key, and none when not training.
    @Test func dropoutMasksComeFromTheKey() throws {
        let x = Tensor(ones: [50, 40])
        let adapter = LowRankAdapter(
            a: Tensor(ones: [1, 40]), b: Tensor(ones: [1, 1]), scaling: 1, dropout: 0.25)
        adapter.dropoutKey = 42
        let first = adapter(x).values, again = adapter(x).values
        adapter.dropoutKey = 43
        let other = adapter(x).values
        #expect(first == again && first != other)
        let mean = first.reduce(0, +) / Float(first.count)
        #expect(abs(mean - 40) < 1.5, "E[row sum] = 40 · 0.75 · 1/0.75")
        adapter.training = false
        #expect(adapter(x).values.allSatisfy { $0 == 40 })
    }
}
