import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct ShapeOpsTests {
    @Test func reshapeSharesStorageAndPassesGradients() throws {
        let x = try Tensor((0..<6).map(Float.init), shape: [2, 3])
        let y = x.reshaped([3, -1])
        #expect(y.shape == [3, 2])
        #expect(y.storage === x.storage)
        #expect(throws: TensorError.self) { try x.resolveReshape([4, -1]) }
        #expect(throws: TensorError.self) { try x.resolveReshape([-1, -1]) }
        checkGradients([randomValues([2, 3, 4], seed: 1)], shapes: [[2, 3, 4]]) { t in
            t[0].reshaped([4, 6]) * t[0].reshaped([4, 6])
        } reference: { r in Reference(shape: [4, 6], values: r[0].values.map { $0 * $0 }) }
    }

    static func permuteReference(_ r: Reference, _ order: [Int]) -> Reference {
        let shape = order.map { r.shape[$0] }
        var out = Reference(shape: shape, values: [Double](repeating: 0, count: r.values.count))
        for i in 0..<out.values.count {
            let index = out.index(i)
            var source = [Int](repeating: 0, count: shape.count)
            for (k, d) in order.enumerated() { source[d] = index[k] }
            out.values[i] = r.values[r.flat(source)]
        }
        return out
    }

    @Test(arguments: [([2, 3, 4], [2, 0, 1]), ([5, 1, 3], [1, 2, 0]), ([3, 7], [1, 0]), ([1], [0])])
    func permuteGradients(shape: [Int], order: [Int]) {
        checkGradients([randomValues(shape, seed: 2)], shapes: [shape]) { t in t[0].permuted(order) } reference: { r in
            Self.permuteReference(r[0], order)
        }
    }

    @Test func transposeSwapsTwoDimensions() throws {
        let x = try Tensor((0..<6).map(Float.init), shape: [2, 3])
        #expect(x.transposed().values == [0, 3, 1, 4, 2, 5])
        checkGradients([randomValues([2, 3, 5], seed: 3)], shapes: [[2, 3, 5]]) { t in t[0].transposed(0, 2) } reference: { r in
            Self.permuteReference(r[0], [2, 1, 0])
        }
    }

    static func sliceReference(_ r: Reference, _ dim: Int, _ range: Range<Int>) -> Reference {
        var shape = r.shape
        shape[dim] = range.count
        var out = Reference(shape: shape, values: [Double](repeating: 0, count: shape.reduce(1, *)))
        for i in 0..<out.values.count {
            var index = out.index(i)
            index[dim] += range.lowerBound
            out.values[i] = r.values[r.flat(index)]
        }
        return out
    }

    @Test(arguments: [([4, 5], 1, 1..<4), ([3, 2, 5], 0, 2..<3), ([3, 2, 5], 2, 0..<5), ([7], 0, 6..<7)])
    func sliceGradients(shape: [Int], dim: Int, range: Range<Int>) {
        checkGradients([randomValues(shape, seed: 4)], shapes: [shape]) { t in t[0].slice(dim, range) } reference: { r in
            Self.sliceReference(r[0], dim, range)
        }
    }

    @Test(arguments: [0, 1, 2])
    func concatenateGradients(dim: Int) {
        var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
        shapes[1][dim] = 1
        shapes[2][dim] = 2
        let inputs = shapes.enumerated().map { randomValues($1, seed: UInt64(10 + $0)) }
        checkGradients(inputs, shapes: shapes) { t in Tensor.concatenate(t, dimension: dim) } reference: { r in
            var shape = r[0].shape
            shape[dim] = r.map { $0.shape[dim] }.reduce(0, +)
            var out = Reference(shape: shape, values: [Double](repeating: 0, count: shape.reduce(1, *)))
            for i in 0..<out.values.count {
                var index = out.index(i)
                var part = 0
                while index[dim] >= r[part].shape[dim] { index[dim] -= r[part].shape[dim]; part += 1 }
                out.values[i] = r[part].values[r[part].flat(index)]
            }
            return out
        }
    }

    @Test func splitAndChunkCoverTheDimension() throws {
        let x = try Tensor((0..<10).map(Float.init), shape: [10])
        #expect(x.split([3, 0, 7], dimension: 0).map(\.shape) == [[3], [0], [7]])
        #expect(x.chunked(3, dimension: 0).map(\.values) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        checkGradients([randomValues([3, 5], seed: 5)], shapes: [[3, 5]]) { t in
            let parts = t[0].chunked(2, dimension: 1)
            return parts[0] * parts[0].slice(1, 0..<2).sum([1], keepDimensions: true) + parts[0] * 0.5
        } reference: { r in
            var out = Reference(shape: [3, 3], values: [Double](repeating: 0, count: 9))
            for i in 0..<3 {
                let s = r[0].values[i * 5] + r[0].values[i * 5 + 1]
                for j in 0..<3 { out.values[i * 3 + j] = r[0].values[i * 5 + j] * s + r[0].values[i * 5 + j] * 0.5 }
            }
            return out
        }
    }

    @Test(arguments: [([3, 1], [2, 3, 4]), ([1], [5]), ([4], [2, 4]), ([2, 1, 3], [2, 5, 3])])
    func expandGradients(shape: [Int], target: [Int]) {
        checkGradients([randomValues(shape, seed: 6)], shapes: [shape]) { t in t[0].expanded(to: target) } reference: { r in
            Reference.broadcast(r[0], Reference(shape: target, values: [Double](repeating: 0, count: target.reduce(1, *)))) { x, _ in x }
        }
    }
}
