import Testing
@testable import TaipanTensor
import TaipanTestSupport

@Suite struct EmbeddingTests {
    @Test func looksUpRowsAndScatterAddsRepeatedIds() throws {
        let ids: [Int32] = [2, 0, 2, 3, 2, 1]
        checkGradients([randomValues([5, 3], seed: 1)], shapes: [[5, 3]]) { t in
            try! embedding(t[0], ids: ids, idShape: [2, 3])
        } reference: { r in
            Reference(shape: [2, 3, 3], values: ids.flatMap { id in (0..<3).map { r[0].values[Int(id) * 3 + $0] } })
        }
    }

    @Test func gradientCountsEveryOccurrence() throws {
        let table = Tensor(zeros: [4, 2], requiresGrad: true)
        try embedding(table, ids: [1, 1, 1, 3], idShape: [4]).sum().backward()
        #expect(table.grad?.values == [0, 0, 3, 3, 0, 0, 1, 1])
    }

    @Test func badIdsAreErrors() {
        let table = Tensor(zeros: [4, 2])
        #expect(throws: TensorError.invalidArgument("embedding: token id 4 is outside the vocabulary 0..<4")) {
            try embedding(table, ids: [0, 4], idShape: [2])
        }
        #expect(throws: TensorError.self) { try embedding(table, ids: [-1], idShape: [1]) }
        #expect(throws: TensorError.self) { try embedding(table, ids: [0, 1, 2], idShape: [2]) }
    }
}
