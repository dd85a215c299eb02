import Foundation
import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct ElementwiseTests {
    /// Shape pairs covering equal shapes, odd sizes, size-1 and broadcast dimensions.
    static let shapePairs: [([Int], [Int])] = [
        ([3, 5], [3, 5]), ([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([1], [5]), ([1, 1], [1, 1]),
        ([7], [1]), ([2, 3, 1], [1, 1, 5]), ([], [2, 3]),
    ]

    @Test(arguments: ["add", "sub", "mul", "div"], shapePairs)
    func binaryGradients(name: String, shapes: ([Int], [Int])) {
        let a = randomValues(shapes.0, seed: 1)
        // Keep divisors away from zero.
        let b = randomValues(shapes.1, low: 0.5, high: 2, seed: 2)
        checkGradients([a, b], shapes: [shapes.0, shapes.1]) { t in
            switch name {
            case "add": return t[0] + t[1]
            case "sub": return t[0] - t[1]
            case "mul": return t[0] * t[1]
            default: return t[0] / t[1]
            }
        } reference: { r in
            Reference.broadcast(r[0], r[1]) { x, y in
                switch name {
                case "add": return x + y
                case "sub": return x - y
                case "mul": return x * y
                default: return x / y
                }
            }
        }
    }

    @Test func tensorUsedOnBothSides() {
        checkGradients([randomValues([4, 3], seed: 3)], shapes: [[4, 3]]) { t in t[0] * t[0] + t[0] / (t[0] * t[0] + 1) } reference: { r in
            Reference.broadcast(r[0], r[0]) { x, _ in x * x + x / (x * x + 1) }
        }
    }

    static let unaryCases: [(String, Float, Float, @Sendable (Double) -> Double)] = [
        ("exp", -3, 3, { Foundation.exp($0) }),
        ("log", 0.2, 4, { Foundation.log($0) }),
        ("sqrt", 0.2, 4, { $0.squareRoot() }),
        ("rsqrt", 0.2, 4, { 1 / $0.squareRoot() }),
        ("pow2", -2, 2, { $0 * $0 }),
        ("pow3", -2, 2, { $0 * $0 * $0 }),
        ("pow0.5", 0.2, 4, { Foundation.pow($0, 0.5) }),
        ("powMinus1.5", 0.2, 4, { Foundation.pow($0, -1.5) }),
        ("sigmoid", -6, 6, { 1 / (1 + Foundation.exp(-$0)) }),
        ("silu", -6, 6, { $0 / (1 + Foundation.exp(-$0)) }),
        ("softplus", -6, 6, { Foundation.log(1 + Foundation.exp($0)) }),
        ("tanh", -3, 3, { Foundation.tanh($0) }),
        ("neg", -3, 3, { -$0 }),
        ("plusScalar", -3, 3, { $0 + 1.5 }),
        ("scalarMinus", -3, 3, { 1.5 - $0 }),
        ("timesScalar", -3, 3, { $0 * -2.5 }),
        ("overScalar", -3, 3, { $0 / 3 }),
        ("scalarOver", 0.5, 3, { 2 / $0 }),
    ]

    @Test(arguments: unaryCases.indices, [[5], [2, 3, 4], [1], [1, 1, 7]])
    func unaryGradients(caseIndex: Int, shape: [Int]) {
        let (name, low, high, reference) = Self.unaryCases[caseIndex]
        checkGradients([randomValues(shape, low: low, high: high, seed: 5)], shapes: [shape]) { t in
            let x = t[0]
            switch name {
            case "exp": return x.exp()
            case "log": return x.log()
            case "sqrt": return x.sqrt()
            case "rsqrt": return x.rsqrt()
            case "pow2": return x.pow(2)
            case "pow3": return x.pow(3)
            case "pow0.5": return x.pow(0.5)
            case "powMinus1.5": return x.pow(-1.5)
            case "sigmoid": return x.sigmoid()
            case "silu": return x.silu()
            case "softplus": return x.softplus()
            case "tanh": return x.tanh()
            case "neg": return -x
            case "plusScalar": return x + 1.5
            case "scalarMinus": return 1.5 - x
            case "timesScalar": return x * -2.5
            case "overScalar": return x / 3
            default: return 2 / x
            }
        } reference: { r in r[0].map(reference) }
    }

    @Test func softplusAndSigmoidAreSafeForLargeInputs() throws {
        let x = try Tensor([-200, -90, -20, 0, 20, 90, 200], shape: [7])
        // softplus(x) = x + log1p(e^−x) for large x and e^x for very negative x.
        let expected: [Float] = [0, 8.194012e-40, 2.0611537e-9, 0.6931472, 20, 90, 200]
        for (a, e) in zip(x.softplus().values, expected) {
            #expect(a.isFinite && abs(a - e) <= 1e-6 * max(1, abs(e)))
        }
        let s = x.sigmoid().values
        #expect(s.allSatisfy { $0.isFinite })
        #expect(s.first == 0 && s.last == 1 && s[3] == 0.5)
        let silu = x.silu().values
        #expect(silu.allSatisfy { $0.isFinite } && silu.last == 200)
    }

    @Test func broadcastMismatchNamesOpAndShapes() {
        #expect(throws: TensorError.shapeMismatch("add: (2, 3) and (4,) do not broadcast: sizes 3 and 4 differ in dimension 1")) {
            try broadcastShapes([2, 3], [4], op: "add")
        }
    }
}
