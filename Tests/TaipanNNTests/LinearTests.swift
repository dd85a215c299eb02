import Testing
import TaipanTensor
import TaipanTestSupport
@testable import TaipanNN

@Suite struct LinearTests {
    @Test(arguments: [true, false])
    func gradientsMatchFiniteDifferences(bias: Bool) {
        var generator = SeededGenerator(seed: 0)
        let layer = Linear(inputSize: 5, outputSize: 3, bias: bias, generator: &generator)
        let bound = 1 / Float(5).squareRoot()
        #expect(layer.parameters.allSatisfy { $0.values.allSatisfy { abs($0) <= bound } })
        #expect(layer.namedParameters.map(\.name) == (bias ? ["weight", "bias"] : ["weight"]))
        var inputs = [randomValues([2, 4, 5], seed: 1), layer.weight.values]
        var shapes = [[2, 4, 5], [3, 5]]
        if let b = layer.bias { inputs.append(b.values); shapes.append([3]) }
        checkGradients(inputs, shapes: shapes) { t in
            Linear(weight: t[1], bias: bias ? t[2] : nil)(t[0])
        } reference: { r in
            var values: [Double] = []
            for row in 0..<8 {
                for o in 0..<3 {
                    var total = bias ? r[2].values[o] : 0
                    for i in 0..<5 { total += r[0].values[row * 5 + i] * r[1].values[o * 5 + i] }
                    values.append(total)
                }
            }
            return Reference(shape: [2, 4, 3], values: values)
        }
    }
}
