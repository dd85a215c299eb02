import Testing
import TaipanTensor
import TaipanTestSupport
@testable import TaipanNN

@Suite struct CausalConv1dTests {
    /// y[b, t, e] = bias[e] + Σ_k w[e, k] x[b, t − K + 1 + k, e], written index by index.
    static func reference(_ x: Reference, _ w: Reference, _ bias: Reference?) -> Reference {
        let (batch, length, channels) = (x.shape[0], x.shape[1], x.shape[2])
        let kernel = w.shape.last!
        var out = Reference(shape: x.shape, values: [Double](repeating: 0, count: x.values.count))
        for b in 0..<batch {
            for t in 0..<length {
                for e in 0..<channels {
                    var total = bias?.values[e] ?? 0
                    for k in 0..<kernel where t - kernel + 1 + k >= 0 {
                        total += w.values[e * kernel + k] * x.values[(b * length + t - kernel + 1 + k) * channels + e]
                    }
                    out.values[(b * length + t) * channels + e] = total
                }
            }
        }
        return out
    }

    @Test(arguments: [([2, 7, 5], 4, true), ([1, 1, 3], 4, true), ([3, 5, 1], 2, false), ([2, 3, 6], 1, true), ([1, 9, 17], 4, false)])
    func gradientsMatchFiniteDifferences(shape: [Int], kernel: Int, bias: Bool) {
        let channels = shape[2]
        var inputs = [randomValues(shape, seed: 1), randomValues([channels, 1, kernel], seed: 2)]
        var shapes = [shape, [channels, 1, kernel]]
        if bias { inputs.append(randomValues([channels], seed: 3)); shapes.append([channels]) }
        checkGradients(inputs, shapes: shapes) { t in
            causalConv1d(t[0], weight: t[1], bias: bias ? t[2] : nil)
        } reference: { r in Self.reference(r[0], r[1], bias ? r[2] : nil) }
    }

    @Test func moduleShapesAndNames() {
        var generator = SeededGenerator(seed: 0)
        let conv = CausalConv1d(channels: 6, kernelSize: 4, bias: true, generator: &generator)
        #expect(conv.namedParameters.map(\.name) == ["weight", "bias"])
        #expect(conv.weight.shape == [6, 1, 4])
        #expect(conv.weight.values.allSatisfy { abs($0) <= 0.5 })
    }
}
