import Testing
import TaipanTestSupport
@testable import TaipanTensor

@Suite struct BFloat16Tests {
    @Test func roundsToNearestEven() {
        // (float32 bits, expected bfloat16 bits)
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // 1 + 2⁻⁸: halfway, ties to the even 1
            (0x3F81_8000, 0x3F82),  // 1 + 3·2⁻⁸: halfway, ties to the even 1 + 2⁻⁶
            (0x3F80_8001, 0x3F81),  // just above halfway: up
            (0x3F81_7FFF, 0x3F81),  // just below halfway: down
            (0xC020_0000, 0xC020),  // −2.5, exact
            (0x7F80_0000, 0x7F80),  // +∞
            (0x7F7F_FFFF, 0x7F80),  // the largest float rounds up to +∞
            (0x7F7F_7FFF, 0x7F7F),  // below halfway stays finite
            (0x8000_0000, 0x8000),  // −0
            (0x0001_16C2, 0x0001),  // a subnormal
        ]
        for (input, expected) in cases {
            #expect(bfloat16Bits(Float(bitPattern: input)) == expected, "\(String(input, radix: 16))")
        }
        #expect(bfloat16Rounded(.nan).isNaN)
        #expect(float(fromBFloat16: 0x4049) == 3.140625)
    }

    @Test func storesTheRoundedWeights() throws {
        let values = randomValues([3, 37], seed: 4)
        let matrix = BFloat16Matrix(try Tensor(values, shape: [3, 37]))
        for r in 0..<3 {
            for c in 0..<37 { #expect(matrix[r, c] == bfloat16Rounded(values[r * 37 + c])) }
        }
        #expect(matrix.byteCount == 3 * 64 * 2)  // 37 columns padded to 64
    }

    @Test(arguments: [(1, 1), (3, 5), (7, 31), (5, 32), (4, 33), (9, 48), (6, 77), (130, 768), (700, 100)])
    func productMatchesAFloat64ReferenceOnTheRoundedWeights(rows: Int, columns: Int) throws {
        let values = randomValues([rows, columns], seed: UInt64(rows * 1000 + columns))
        let x = randomValues([columns], seed: 99)
        let matrix = BFloat16Matrix(try Tensor(values, shape: [rows, columns]))
        expectMatrixVectorProduct(rows: rows, columns: columns, x: x, storedWeight: { bfloat16Rounded(values[$0 * columns + $1]) }) { x, y, team in
            matrix.multiply(x, into: y, team: team)
        }
    }
}
