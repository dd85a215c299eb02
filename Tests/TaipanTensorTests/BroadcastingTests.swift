import Testing
@testable import TaipanTensor

@Suite struct BroadcastingTests {
    @Test func shapesAlignFromTheRight() throws {
        #expect(try broadcastShapes([2, 1, 4], [3, 1], op: "t") == [2, 3, 4])
        #expect(try broadcastShapes([], [5], op: "t") == [5])
        #expect(try broadcastShapes([1], [1, 1], op: "t") == [1, 1])
        #expect(try broadcastShapes([0, 3], [1, 3], op: "t") == [0, 3])
        #expect(throws: TensorError.self) { try broadcastShapes([2, 3], [3, 2], op: "t") }
    }

    @Test func stridesAreZeroOnBroadcastDimensions() {
        #expect(broadcastStrides([3, 1], to: [2, 3, 4]) == [0, 1, 0])
        #expect(broadcastStrides([4], to: [2, 3, 4]) == [0, 0, 1])
        #expect(contiguousStrides([2, 3, 4]) == [12, 4, 1])
    }

    @Test func reducingGradientSumsOverBroadcastDimensions() throws {
        let bias = Tensor(zeros: [3], requiresGrad: true)
        let source = try Tensor((0..<6).map(Float.init), shape: [2, 3])
        bias.accumulateGradient(reducing: source)
        #expect(bias.grad?.values == [3, 5, 7])
        bias.accumulateGradient(reducing: source, sign: -1)
        #expect(bias.grad?.values == [0, 0, 0])
    }
}
