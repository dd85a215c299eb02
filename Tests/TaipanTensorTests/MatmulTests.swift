import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct MatmulTests {
    /// op(A)·op(B) over the last two dimensions, by the textbook triple loop in Float64.
    static func naive(_ a: Reference, _ b: Reference, _ ta: Bool, _ tb: Bool) -> Reference {
        func matrix(_ r: Reference, _ batch: Int, _ t: Bool) -> (Int, Int, (Int, Int) -> Double) {
            let rows = r.shape[r.shape.count - 2], cols = r.shape[r.shape.count - 1]
            let base = r.shape.count > 2 ? batch * rows * cols : 0
            return t ? (cols, rows, { i, j in r.values[base + j * cols + i] }) : (rows, cols, { i, j in r.values[base + i * cols + j] })
        }
        let batchShape = a.shape.count > 2 ? Array(a.shape.dropLast(2)) : Array(b.shape.dropLast(2))
        let batches = batchShape.reduce(1, *)
        var values: [Double] = []
        var m = 0, n = 0
        for batch in 0..<batches {
            let (rows, k, x) = matrix(a, batch, ta), (_, cols, y) = matrix(b, batch, tb)
            m = rows; n = cols
            for i in 0..<rows {
                for j in 0..<cols { values.append((0..<k).map { x(i, $0) * y($0, j) }.reduce(0, +)) }
            }
        }
        return Reference(shape: batchShape + [m, n], values: values)
    }

    static func stored(_ rows: Int, _ cols: Int, _ transposed: Bool) -> [Int] { transposed ? [cols, rows] : [rows, cols] }

    @Test(arguments: [false, true], [false, true])
    func twoDimensionalGradients(transposeA: Bool, transposeB: Bool) {
        for (m, k, n) in [(3, 4, 5), (1, 7, 1), (6, 1, 2), (5, 3, 1)] {
            let sa = Self.stored(m, k, transposeA), sb = Self.stored(k, n, transposeB)
            checkGradients([randomValues(sa, seed: 1), randomValues(sb, seed: 2)], shapes: [sa, sb]) { t in
                matmul(t[0], t[1], transposeA: transposeA, transposeB: transposeB)
            } reference: { r in Self.naive(r[0], r[1], transposeA, transposeB) }
        }
    }

    @Test(arguments: [false, true], [false, true])
    func batchedGradients(transposeA: Bool, transposeB: Bool) {
        let (m, k, n) = (3, 5, 4)
        let sa = Self.stored(m, k, transposeA), sb = Self.stored(k, n, transposeB)
        // Both batched, a batch of A times a shared B, and a shared A times a batch of B.
        for (batchA, batchB) in [([2, 3], [2, 3]), ([2, 3], []), ([], [4])] {
            checkGradients(
                [randomValues(batchA + sa, seed: 3), randomValues(batchB + sb, seed: 4)], shapes: [batchA + sa, batchB + sb]
            ) { t in
                matmul(t[0], t[1], transposeA: transposeA, transposeB: transposeB)
            } reference: { r in Self.naive(r[0], r[1], transposeA, transposeB) }
        }
    }

    @Test func shapeErrorsNameTheOpAndBothShapes() {
        #expect(throws: TensorError.shapeMismatch("matmul: (4, 3) × (5, 2): inner sizes 3 and 5 differ")) {
            try matmulShape([4, 3], [5, 2])
        }
        #expect(throws: TensorError.shapeMismatch("matmul: (2, 4, 3) × (3, 3, 2): batch dimensions (2,) and (3,) differ")) {
            try matmulShape([2, 4, 3], [3, 3, 2])
        }
        #expect(throws: TensorError.self) { try matmulShape([3], [3, 2]) }
        #expect(try! matmulShape([4, 3], [2, 3], transposeB: true) == [4, 2])
    }

    @Test func largeProductMatchesNaive() throws {
        let (m, k, n) = (67, 129, 33)
        let a = randomValues([m, k], seed: 5), b = randomValues([n, k], seed: 6)
        let c = matmul(try Tensor(a, shape: [m, k]), try Tensor(b, shape: [n, k]), transposeB: true)
        let expected = Self.naive(
            Reference(shape: [m, k], values: a.map(Double.init)), Reference(shape: [n, k], values: b.map(Double.init)), false, true)
        #expect(relativeError(c.values, expected.values) < 1e-6)
    }
}
