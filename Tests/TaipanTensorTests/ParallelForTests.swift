import Testing
@testable import TaipanTensor

@Suite struct ParallelForTests {
    @Test(arguments: [0, 1, 5, 100, 100_001])
    func chunksCoverTheRangeExactlyOnce(count: Int) {
        let hits = Locked([Int](repeating: 0, count: count))
        parallelChunks(count: count, chunks: 7) { _, range in
            hits.withLock { for i in range { $0[i] += 1 } }
        }
        #expect(hits.withLock { $0.allSatisfy { $0 == 1 } })
    }

    @Test func chunkBoundariesDependOnlyOnSizes() {
        let ranges = Locked([Int: Range<Int>]())
        parallelChunks(count: 10, chunks: 3) { chunk, range in ranges.withLock { $0[chunk] = range } }
        #expect(ranges.withLock { $0 } == [0: 0..<4, 1: 4..<7, 2: 7..<10])
    }
}
