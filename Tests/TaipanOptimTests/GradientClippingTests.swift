import Testing
import TaipanTensor
@testable import TaipanOptim

@Suite struct GradientClippingTests {
    @Test func normAndClipping() throws {
        let a = Tensor(zeros: [2], requiresGrad: true), b = Tensor(zeros: [1], requiresGrad: true), c = Tensor(zeros: [3])
        a.grad = try Tensor([3, 0], shape: [2])
        b.grad = try Tensor([4], shape: [1])
        #expect(globalGradientNorm([a, b, c]) == 5)  // c has no gradient
        #expect(clipGradients([a, b], maxNorm: 10) == 5)
        #expect(a.grad!.values == [3, 0])
        #expect(clipGradients([a, b], maxNorm: 1) == 5)
        #expect(abs(globalGradientNorm([a, b]) - 1) < 1e-6)
        #expect(abs(a.grad!.values[0] - 0.6) < 1e-6 && abs(b.grad!.values[0] - 0.8) < 1e-6)
        b.grad = try Tensor([.nan], shape: [1])
        #expect(globalGradientNorm([a, b]).isNaN)
    }
}
