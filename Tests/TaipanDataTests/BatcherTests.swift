import Foundation
import Testing
@testable import TaipanData

@Suite struct BatcherTests {
    /// Shards whose ids are their global token positions (mod 60000), so windows can be checked by hand.
    func makeShards(_ counts: [Int], vocabularySize: Int = 65536) throws -> [TokenShard] {
        let directory = try makeTemporaryDirectory()
        var next: Int32 = 0
        return try counts.enumerated().map { index, count in
            let writer = try TokenShardWriter(path: directory + "/\(index).bin", vocabularySize: vocabularySize)
            try writer.append(document: (0..<count).map { _ in defer { next = (next + 1) % 60000 }; return next })
            try writer.finish()
            return try TokenShard(path: writer.path)
        }
    }

    @Test func windowsAreConsecutiveTokensWithinOneShard() throws {
        // Shard 0: 10 tokens → windows of 4 (L = 3) start at 0, 3, 6 (tokens 6…9; 9 would need 9…12).
        // Shard 1: 7 tokens (ids 10…16) → windows start at 10, 13; none crosses the shard boundary.
        let shards = try makeShards([10, 7])
        let batcher = try Batcher(shards: shards, batchSize: 1, sequenceLength: 3, seed: 0, shuffle: false)
        #expect(batcher.windowCount == 5)
        let rows = (0..<5).map { _ in batcher.next().tokens }
        #expect(rows == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [10, 11, 12, 13], [13, 14, 15, 16]])
        #expect(batcher.position == BatcherPosition(epoch: 1, batch: 0, windowCount: 5))
    }

    @Test func everyEpochVisitsEveryWindowOnceInANewOrder() throws {
        let batcher = try Batcher(shards: try makeShards([1001, 500]), batchSize: 5, sequenceLength: 10, seed: 42)
        #expect(batcher.windowCount == 100 + 49)
        var orders: [[Int]] = []
        for epoch in 0..<3 {
            let order = (0..<batcher.batchesPerEpoch).flatMap { batcher.windows(epoch: epoch, batch: $0) }
            #expect(Set(order).count == order.count && order.allSatisfy { (0..<149).contains($0) })
            orders.append(order)
        }
        #expect(orders[0] != orders[1] && orders[1] != orders[2])
        let again = try Batcher(shards: batcher.shards, batchSize: 5, sequenceLength: 10, seed: 42)
        #expect(again.windows(epoch: 1, batch: 3) == batcher.windows(epoch: 1, batch: 3))
        let otherSeed = try Batcher(shards: batcher.shards, batchSize: 5, sequenceLength: 10, seed: 43)
        #expect((0..<29).flatMap { otherSeed.windows(epoch: 0, batch: $0) } != orders[0])
    }

    @Test func restoringAPositionContinuesExactlyAcrossEpochs() throws {
        let shards = try makeShards([400, 333, 91])
        let straight = try Batcher(shards: shards, batchSize: 3, sequenceLength: 8, seed: 7)
        let perEpoch = straight.batchesPerEpoch
        let total = 2 * perEpoch + 5
        let reference = (0..<total).map { _ in straight.next().tokens }
        for stop in [1, perEpoch - 1, perEpoch, perEpoch + 2, 2 * perEpoch] {
            let first = try Batcher(shards: shards, batchSize: 3, sequenceLength: 8, seed: 7)
            for _ in 0..<stop { _ = first.next() }
            let saved = try JSONEncoder().encode(first.position)
            let resumed = try Batcher(shards: shards, batchSize: 3, sequenceLength: 8, seed: 7)
            try resumed.restore(try JSONDecoder().decode(BatcherPosition.self, from: saved))
            let rest = (stop..<total).map { _ in resumed.next().tokens }
            #expect(rest == Array(reference[stop...]), "stopped after \(stop) batches")
        }
    }

    @Test func ranksShareEachGlobalBatchAndResumeEach() throws {
        let shards = try makeShards([2000])
        let single = try Batcher(shards: shards, batchSize: 5, sequenceLength: 16, seed: 3)
        let reference = (0..<20).map { _ in single.next().tokens }
        for worldSize in [2, 3, 5] {
            let ranks = try (0..<worldSize).map {
                try Batcher(shards: shards, batchSize: 5, sequenceLength: 16, seed: 3, rank: $0, worldSize: worldSize)
            }
            // Uneven shares: ⌊r·5/R⌋ ..< ⌊(r+1)·5/R⌋.
            #expect(ranks.map(\.rows.count).reduce(0, +) == 5)
            #expect(ranks.allSatisfy { $0.batchesPerEpoch == single.batchesPerEpoch })
            for index in 0..<20 {
                #expect(ranks.flatMap { $0.next().tokens } == reference[index], "R = \(worldSize), batch \(index)")
            }
            for rank in 0..<worldSize {
                let resumed = try Batcher(shards: shards, batchSize: 5, sequenceLength: 16, seed: 3, rank: rank, worldSize: worldSize)
                try resumed.restore(ranks[rank].position)
                let straight = try Batcher(shards: shards, batchSize: 5, sequenceLength: 16, seed: 3, rank: rank, worldSize: worldSize)
                for _ in 0..<20 { _ = straight.next() }
                #expect(resumed.next().tokens == straight.next().tokens)
            }
        }
        #expect(single.batchesPerEpoch == 124 / 5)
        #expect(throws: DataError.self) {
            try Batcher(shards: shards, batchSize: 2, sequenceLength: 16, seed: 3, rank: 0, worldSize: 3)
        }
    }

    @Test func tooLittleDataIsAClearError() throws {
        let shards = try makeShards([20])
        #expect {
            _ = try Batcher(shards: shards, batchSize: 4, sequenceLength: 8, seed: 0)
        } throws: { error in
            guard case DataError.notEnoughData(let message) = error else { return false }
            return message.contains("20 tokens") && message.contains("2 windows of 9 tokens") && message.contains("needs 4")
        }
        let batcher = try Batcher(shards: shards, batchSize: 1, sequenceLength: 8, seed: 0)
        #expect(throws: DataError.self) { try batcher.restore(BatcherPosition(epoch: 0, batch: 0, windowCount: 3)) }
        #expect(throws: DataError.self) { try batcher.restore(BatcherPosition(epoch: 0, batch: 5, windowCount: 2)) }
    }

    /// Shards of examples: each example's ids, the first `prompt` of them its prompt.
    func makeExampleShards(_ shards: [[(ids: [Int32], prompt: Int)]]) throws -> [TokenShard] {
        let directory = try makeTemporaryDirectory()
        return try shards.enumerated().map { index, examples in
            let writer = try TokenShardWriter(path: directory + "/e\(index).bin", vocabularySize: 1000, examples: true)
            for example in examples { try writer.append(document: example.ids, promptCount: example.prompt) }
            try writer.finish()
            return try TokenShard(path: writer.path)
        }
    }

    @Test func examplesArePaddedRowsOfTheirOwnWithTheirMask() throws {
        let shards = try makeExampleShards([
            [([1, 2, 3, 4], 2), ([5, 6], 1), ([7, 8, 9, 10, 11, 12], 3)],
            [([13, 14, 15], 0)],
        ])
        let batcher = try Batcher(shards: shards, batchSize: 1, sequenceLength: 3, seed: 0, shuffle: false)
        #expect(batcher.examples && batcher.windowCount == 4 && batcher.truncatedExamples == 1)
        let batches = (0..<4).map { _ in batcher.next() }
        // One example a row of L + 1 = 4 from its start, cut after 4 ids, padded with 0.
        #expect(batches.map(\.tokens) == [[1, 2, 3, 4], [5, 6, 0, 0], [7, 8, 9, 10], [13, 14, 15, 0]])
        #expect(batches.map(\.counted) == [
            [false, false, true, true], [false, true, false, false], [false, false, false, true], [true, true, true, false],
        ])
        #expect(batcher.position == BatcherPosition(epoch: 1, batch: 0, windowCount: 4))
        let text = try makeShards([50])
        #expect(try Batcher(shards: text, batchSize: 1, sequenceLength: 3, seed: 0).next().counted == nil)
        #expect {
            _ = try Batcher(shards: shards + text, batchSize: 1, sequenceLength: 3, seed: 0)
        } throws: { error in
            "\(error)".contains("one run takes one kind of data")
        }
    }

    @Test func exampleBatchesResumeExactlyAndSplitAcrossRanks() throws {
        let examples: [(ids: [Int32], prompt: Int)] = (0..<37).map { index in
            let ids: [Int32] = (0..<(2 + index % 9)).map { Int32(index * 10 + $0) }
            return (ids, index % 3)
        }
        let shards = try makeExampleShards([Array(examples[..<20]), Array(examples[20...])])
        func batcher(rank: Int = 0, worldSize: Int = 1) throws -> Batcher {
            try Batcher(shards: shards, batchSize: 4, sequenceLength: 6, seed: 5, rank: rank, worldSize: worldSize)
        }
        let straight = try batcher()
        #expect(straight.batchesPerEpoch == 9)
        let reference = (0..<25).map { _ in straight.next() }
        // Every example once per epoch.
        let firstEpoch = reference.prefix(9).flatMap { batch in stride(from: 0, to: batch.tokens.count, by: 7).map { batch.tokens[$0] / 10 } }
        #expect(Set(firstEpoch).count == 36)
        for stop in [1, 8, 9, 13] {
            let first = try batcher()
            for _ in 0..<stop { _ = first.next() }
            let resumed = try batcher()
            try resumed.restore(try JSONDecoder().decode(BatcherPosition.self, from: try JSONEncoder().encode(first.position)))
            for index in stop..<25 {
                let batch = resumed.next()
                #expect(batch.tokens == reference[index].tokens && batch.counted == reference[index].counted, "stop \(stop), batch \(index)")
            }
        }
        let ranks = try (0..<3).map { try batcher(rank: $0, worldSize: 3) }
        for index in 0..<12 {
            let parts = ranks.map { $0.next() }
            #expect(parts.flatMap(\.tokens) == reference[index].tokens && parts.flatMap { $0.counted ?? [] } == reference[index].counted)
        }
    }
}
