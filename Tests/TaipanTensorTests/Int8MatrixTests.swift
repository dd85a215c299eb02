import Foundation
import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct Int8MatrixTests {
    @Test func quantisesEachRowByItsLargestMagnitude() throws {
        // Row 0: max |w| = 2.54, scale 0.02: 1.0 → 50, −2.54 → −127, 0.011 → 0.55 → 1, 0.2 → 10,
        // 0.061 → 3.05 → 3. Row 1: all zero. Row 2: max 127, scale 1: 0.5 → 0 and 1.5 → 2 (ties
        // to even), −126.6 → −127.
        let values: [Float] = [
            1.0, -2.54, 0.011, 0.2, 0.061,
            0, 0, 0, 0, 0,
            127, -3, 0.5, 1.5, -126.6,
        ]
        let matrix = Int8Matrix(try Tensor(values, shape: [3, 5]))
        let scale = Float(2.54) / 127
        let expected: [[Float]] = [
            [50 * scale, -127 * scale, 1 * scale, 10 * scale, 3 * scale],
            [0, 0, 0, 0, 0],
            [127, -3, 0, 2, -127],
        ]
        for r in 0..<3 { for c in 0..<5 { #expect(matrix[r, c] == expected[r][c], "(\(r), \(c))") } }
        #expect(matrix.byteCount == 3 * 32 + 3 * 4)  // 5 columns padded to 32, one scale per row
    }

    @Test func rowsWithNaNOrInfinityGiveNaN() throws {
        let matrix = Int8Matrix(try Tensor([1, .nan, 2, 3, .infinity, 4, 1, 2, 3], shape: [3, 3]))
        var y = [Float](repeating: 0, count: 3)
        [Float(1), 1, 1].withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { matrix.multiply(x.baseAddress!, into: $0.baseAddress!) }
        }
        #expect(y[0].isNaN && y[1].isNaN && y[2] == 6)
    }

    @Test func quantisationErrorIsAtMostHalfAStep() throws {
        let values = randomValues([17, 300], low: -3, high: 3, seed: 12)
        let matrix = Int8Matrix(try Tensor(values, shape: [17, 300]))
        for r in 0..<17 {
            let row = values[(r * 300)..<((r + 1) * 300)]
            let step = row.map(abs).max()! / 127
            for c in 0..<300 { #expect(abs(matrix[r, c] - values[r * 300 + c]) <= step / 2 * 1.0001) }
        }
    }

    @Test(arguments: [(1, 1), (3, 5), (7, 31), (5, 32), (4, 33), (9, 48), (6, 77), (130, 768), (700, 100), (40, 1100)])
    func productMatchesAFloat64ReferenceOnTheStoredWeights(rows: Int, columns: Int) throws {
        let values = randomValues([rows, columns], seed: UInt64(rows * 1000 + columns))
        var x = randomValues([columns], seed: 99)
        if columns > 600 { for j in 520..<600 { x[j] *= 50 } }  // the second block's scale is 50 times the first's
        let matrix = Int8Matrix(try Tensor(values, shape: [rows, columns]))
        expectMatrixVectorProduct(
            rows: rows, columns: columns, x: x, referenceInput: Self.roundedTo16Bits(x), storedWeight: { matrix[$0, $1] }
        ) { x, y, team in
            matrix.multiply(x, into: y, team: team)
        }
    }

    /// The input as the header of Int8Matrix.swift says products round it, in Float64: per block
    /// of 512, xScale = max |x| / 32767 and x → round(x / xScale) · xScale.
    static func roundedTo16Bits(_ x: [Float]) -> [Double] {
        var rounded = [Double](repeating: 0, count: x.count)
        for start in stride(from: 0, to: x.count, by: 512) {
            let block = start..<min(x.count, start + 512)
            let scale = Double(x[block].map(abs).max()! / 32_767)
            for j in block where scale > 0 { rounded[j] = (Double(x[j]) / scale).rounded(.toNearestOrEven) * scale }
        }
        return rounded
    }

    /// Rows of 2048 weights at the largest integer times inputs at the largest: 2048 · 127 · 32767
    /// is past Int32, so this holds only if the integer sums stop at blocks of 512 columns.
    @Test func largestWeightsAndInputsDoNotOverflow() throws {
        let matrix = Int8Matrix(try Tensor([Float](repeating: 0.5, count: 2 * 2048), shape: [2, 2048]))
        var y = [Float](repeating: 0, count: 2)
        [Float](repeating: -3, count: 2048).withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { matrix.multiply(x.baseAddress!, into: $0.baseAddress!) }
        }
        #expect(y == [-3072, -3072])
    }

    /// Each block of 512 inputs is rounded against its own largest magnitude: a large input in
    /// the second block does not wash out small ones in the first (one scale for the whole
    /// vector would round every 0.001 to zero, since 1000 / 32767 > 0.03).
    @Test func eachBlockOfTheInputIsRoundedOnItsOwn() throws {
        let matrix = Int8Matrix(try Tensor([Float](repeating: 1, count: 600), shape: [1, 600]))
        var x = [Float](repeating: 0.001, count: 600)
        x[599] = 1000
        var y: [Float] = [0]
        x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { matrix.multiply(x.baseAddress!, into: $0.baseAddress!) } }
        // The first block's 512 inputs of 0.001 survive; in the second block, whose step is
        // 1000 / 32767, the 87 inputs of 0.001 round to zero.
        #expect(abs(y[0] - 1000.512) < 2e-3, "\(y[0])")
    }

    @Test func anInputWithNaNOrInfinityGivesNaN() throws {
        let matrix = Int8Matrix(try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]))
        for bad in [Float.nan, .infinity, -.infinity] {
            var y = [Float](repeating: 0, count: 2)
            [1, bad, 1].withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { matrix.multiply(x.baseAddress!, into: $0.baseAddress!) }
            }
            #expect(y[0].isNaN && y[1].isNaN, "\(bad)")
        }
    }
}
