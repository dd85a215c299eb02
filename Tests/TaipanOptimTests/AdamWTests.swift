import Foundation
import Testing
import TaipanTensor
@testable import TaipanOptim

@Suite struct AdamWTests {
    @Test func threeStepsMatchTheTextbookUpdate() throws {
        let weight = try Tensor([0.5, -1.5, 2.0], shape: [3], requiresGrad: true)
        let bias = try Tensor([0.25], shape: [1], requiresGrad: true)
        let h = AdamW.Hyperparameters(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        let optimizer = AdamW(parameters: [("layer.weight", weight), ("layer.bias", bias)], hyperparameters: h, noDecay: [NamePattern("*bias")])
        #expect(optimizer.slots.map(\.decays) == [true, false])
        // Reference in Float64, written from the paper's algorithm: bias-corrected m̂, v̂.
        var p: [Double] = [0.5, -1.5, 2.0, 0.25], m = [Double](repeating: 0, count: 4), v = m
        let gradients: [[Double]] = [[0.1, -0.2, 0.3, 1.0], [0.05, 0.4, -0.1, -0.5], [-0.3, 0.0, 0.2, 0.25]]
        let rates = [1e-2, 5e-3, 1e-3]
        for (t, (g, lr)) in zip(gradients, rates).enumerated() {
            weight.grad = try Tensor(g.prefix(3).map(Float.init), shape: [3])
            bias.grad = try Tensor([Float(g[3])], shape: [1])
            optimizer.step(learningRate: Float(lr))
            for i in 0..<4 {
                if i < 3 { p[i] -= lr * 0.1 * p[i] }
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i]
                let mHat = m[i] / (1 - Foundation.pow(0.9, Double(t + 1))), vHat = v[i] / (1 - Foundation.pow(0.95, Double(t + 1)))
                p[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        let actual = weight.values + bias.values
        for (a, e) in zip(actual, p) { #expect(abs(Double(a) - e) < 1e-6, "\(a) vs \(e)") }
        #expect(optimizer.stepCount == 3)
    }

    @Test func parametersWithoutGradientsStayPut() throws {
        let frozen = try Tensor([1, 2], shape: [2], requiresGrad: true)
        let optimizer = AdamW(parameters: [("frozen", frozen)], hyperparameters: .init(), noDecay: [])
        optimizer.step(learningRate: 0.1)
        #expect(frozen.values == [1, 2])
        #expect(optimizer.slots[0].firstMoment.values == [0, 0])
    }
}
