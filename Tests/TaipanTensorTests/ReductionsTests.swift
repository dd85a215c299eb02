import Foundation
import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct ReductionsTests {
    static let cases: [([Int], [Int], Bool)] = [
        ([2, 3, 4], [1], false), ([2, 3, 4], [0, 2], true), ([2, 3, 4], [0, 1, 2], false),
        ([5], [0], true), ([3, 1, 5], [1], false), ([1, 7], [-1], true), ([4, 3], [0], false),
    ]

    @Test(arguments: cases)
    func sumGradients(shape: [Int], dims: [Int], keep: Bool) {
        let normalized = dims.map { $0 < 0 ? $0 + shape.count : $0 }
        checkGradients([randomValues(shape, seed: 1)], shapes: [shape]) { t in t[0].sum(dims, keepDimensions: keep) } reference: { r in
            r[0].reduce(normalized, keep: keep, initial: 0, +)
        }
    }

    @Test(arguments: cases)
    func meanGradients(shape: [Int], dims: [Int], keep: Bool) {
        let normalized = dims.map { $0 < 0 ? $0 + shape.count : $0 }
        let n = Double(normalized.map { shape[$0] }.reduce(1, *))
        checkGradients([randomValues(shape, seed: 2)], shapes: [shape]) { t in t[0].mean(dims, keepDimensions: keep) } reference: { r in
            r[0].reduce(normalized, keep: keep, initial: 0, +).map { $0 / n }
        }
    }

    @Test(arguments: cases)
    func maxGradients(shape: [Int], dims: [Int], keep: Bool) {
        let normalized = dims.map { $0 < 0 ? $0 + shape.count : $0 }
        // Distinct values so the maximum is unique and the finite difference is defined.
        var values = (0..<shape.reduce(1, *)).map { Float($0) * 0.37 }
        var generator = SeededGenerator(seed: 3)
        values.shuffle(using: &generator)
        checkGradients([values], shapes: [shape]) { t in t[0].max(dims, keepDimensions: keep) } reference: { r in
            r[0].reduce(normalized, keep: keep, initial: -.infinity) { Swift.max($0, $1) }
        }
    }

    @Test(arguments: cases)
    func logSumExpGradients(shape: [Int], dims: [Int], keep: Bool) {
        let normalized = dims.map { $0 < 0 ? $0 + shape.count : $0 }
        checkGradients([randomValues(shape, low: -4, high: 4, seed: 4)], shapes: [shape]) { t in
            t[0].logSumExp(dims, keepDimensions: keep)
        } reference: { r in
            r[0].map { Foundation.exp($0) }.reduce(normalized, keep: keep, initial: 0, +).map { Foundation.log($0) }
        }
    }

    @Test(arguments: [([2, 3, 4], 2), ([2, 3, 4], 1), ([5], 0), ([3, 1], 1), ([4, 6], -1)])
    func softmaxGradients(shape: [Int], dim: Int) {
        let d = dim < 0 ? dim + shape.count : dim
        checkGradients([randomValues(shape, low: -3, high: 3, seed: 5)], shapes: [shape]) { t in t[0].softmax(dim) } reference: { r in
            let e = r[0].map { Foundation.exp($0) }
            let totals = e.reduce([d], keep: true, initial: 0, +)
            return Reference.broadcast(e, totals, /)
        }
    }

    @Test func softmaxAndLogSumExpMatchWorkedValues() throws {
        // softmax(1, 2, 3) = e^k / (e + e² + e³), worked out by hand.
        let p = try Tensor([1, 2, 3], shape: [1, 3]).softmax(1).values
        for (a, e) in zip(p, [0.09003057, 0.24472847, 0.66524096] as [Float]) { #expect(abs(a - e) < 1e-7) }
        // Stable for inputs whose exponentials overflow: logsumexp(1000, 1000) = 1000 + ln 2.
        let big = try Tensor([1000, 1000, -1000, -1000], shape: [2, 2])
        #expect(big.logSumExp([1]).values == [1000 + Float(M_LN2), -1000 + Float(M_LN2)])
        #expect(big.softmax(1).values == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func fullSumIsDeterministicAndAccurate() throws {
        let n = 1_000_003
        let x = try Tensor([Float](repeating: 0.1, count: n), shape: [n])
        let first = x.sum().item
        #expect((0..<5).allSatisfy { _ in x.sum().item == first })
        #expect(abs(Double(first) - Double(Float(0.1)) * Double(n)) < 1e-2)
    }
}
