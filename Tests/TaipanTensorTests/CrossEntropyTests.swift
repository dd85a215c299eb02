import Foundation
import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct CrossEntropyTests {
    @Test func matchesHandWorkedValues() throws {
        // Row 0: log(e¹ + e² + e³) − 3 = 0.40760596; row 1: log(3) − 0 = 1.0986123 (uniform);
        // row 2 is ignored. Mean over the two counted rows.
        let logits = try Tensor([1, 2, 3, 5, 5, 5, 9, 9, 9], shape: [3, 3], requiresGrad: true)
        let loss = try crossEntropy(logits: logits, targets: [2, 0, -100])
        #expect(abs(loss.item - (0.40760596 + 1.0986123) / 2) < 1e-6)
        loss.backward()
        // d loss / d logits = (softmax − onehot) / 2 on counted rows, 0 on the ignored one.
        let expected: [Float] = [
            0.09003057 / 2, 0.24472847 / 2, (0.66524096 - 1) / 2,
            (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6,
            0, 0, 0,
        ]
        for (a, e) in zip(logits.grad!.values, expected) { #expect(abs(a - e) < 1e-6) }
        // The first backward wrote a fresh gradient (ignored row included); a second adds to it.
        try crossEntropy(logits: logits, targets: [2, 0, -100]).backward()
        for (a, e) in zip(logits.grad!.values, expected) { #expect(abs(a - 2 * e) < 2e-6) }
    }

    @Test func sumReductionAndLargeLogits() throws {
        let logits = try Tensor([1000, 0, -1000, 0], shape: [2, 2])
        let loss = try crossEntropy(logits: logits, targets: [1, 0], reduction: .sum)
        // Row 0: 1000 − 0 (target far below the max); row 1: log(e^-1000 + 1) − (−1000) = 1000.
        #expect(loss.item == 2000)
    }

    @Test(arguments: [[4, 7], [2, 3, 5], [1, 1]])
    func gradientsMatchFiniteDifferences(shape: [Int]) {
        let classes = shape.last!, rows = shape.dropLast().reduce(1, *)
        var generator = SeededGenerator(seed: 3)
        var targets = (0..<rows).map { _ in Int32(generator.next() % UInt64(classes)) }
        if rows > 2 { targets[1] = -100 }
        let counted = Double(targets.filter { $0 != -100 }.count)
        checkGradients([randomValues(shape, low: -3, high: 3, seed: 4)], shapes: [shape]) { t in
            try! crossEntropy(logits: t[0], targets: targets)
        } reference: { r in
            var total = 0.0
            for (row, target) in targets.enumerated() where target != -100 {
                let x = r[0].values[(row * classes)..<((row + 1) * classes)]
                total += Foundation.log(x.map { Foundation.exp($0) }.reduce(0, +)) - x[x.startIndex + Int(target)]
            }
            return Reference(shape: [], values: [total / counted])
        }
    }

    @Test func badTargetsAreErrors() {
        let logits = Tensor(zeros: [2, 3])
        #expect(throws: TensorError.self) { try crossEntropy(logits: logits, targets: [0]) }
        #expect(throws: TensorError.invalidArgument("crossEntropy: target 3 is outside the classes 0..<3")) {
            try crossEntropy(logits: logits, targets: [0, 3])
        }
    }
}
