import Foundation
import Testing
import TaipanTensor
import TaipanTestSupport
@testable import TaipanNN

@Suite struct RMSNormTests {
    // Width 1 is left out: there y = x/√(x² + ε)·w is flat and its gradient (~ε) is all rounding.
    @Test(arguments: [[3, 5], [2, 3, 8], [1, 3], [4, 2], [7]])
    func gradientsMatchFiniteDifferences(shape: [Int]) {
        let width = shape.last!
        checkGradients(
            [randomValues(shape, seed: 1), randomValues([width], low: 0.5, high: 1.5, seed: 2)], shapes: [shape, [width]]
        ) { t in
            rmsNorm(t[0], weight: t[1], epsilon: 1e-5)
        } reference: { r in
            var out = r[0]
            let rows = out.values.count / width
            for row in 0..<rows {
                let x = r[0].values[(row * width)..<((row + 1) * width)]
                let scale = 1 / (x.map { $0 * $0 }.reduce(0, +) / Double(width) + 1e-5).squareRoot()
                for j in 0..<width { out.values[row * width + j] = x[x.startIndex + j] * scale * r[1].values[j] }
            }
            return out
        }
    }

    @Test func moduleNamesItsWeight() {
        let norm = RMSNorm(width: 4, epsilon: 1e-5)
        #expect(norm.namedParameters.map(\.name) == ["weight"])
        #expect(norm.weight.values == [1, 1, 1, 1])
    }
}
