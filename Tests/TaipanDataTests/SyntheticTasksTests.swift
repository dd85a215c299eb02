import Testing
@testable import TaipanData

@Suite struct SyntheticTasksTests {
    // MARK: Hand-checked rows

    @Test func aSelectiveCopyingRowIsItsBodyTheMarkerAndItsDataInOrder() {
        let task = SyntheticTask(kind: .selectiveCopying, vocabularySize: 6, dataTokens: 2)
        // L = 6: a body of M = 4 ids with data 4 at position 1 and 2 at position 3.
        let example = SyntheticExample(task: task, length: 6, starts: [1, 3], values: [4, 2], contentKey: 0)
        #expect(example.ids == [0, 4, 0, 2, 1, 4, 2])
        #expect(example.answerPositions == [5, 6])
    }

    @Test func blankAnswerInputsHideTheAnswersAndPreviousOnesTeacherForce() {
        // L = 8, K = 3: a body of M = 5 ids with data 4, 7, 2 at positions 0, 2, 4, the marker at
        // 5, the answers at 6, 7, 8. The model reads ids 0..<8; the answers are targets 6...8.
        let blank = SyntheticTask(kind: .selectiveCopying, vocabularySize: 8, dataTokens: 3)
        #expect(blank.answerInputs == .blank && blank.readsOtherInputs)
        let example = SyntheticExample(task: blank, length: 8, starts: [0, 2, 4], values: [4, 7, 2], contentKey: 0)
        #expect(example.ids == [4, 0, 7, 0, 2, 1, 4, 7, 2])
        #expect(example.inputIds == [4, 0, 7, 0, 2, 1, 0, 0])
        #expect(example.answerPositions == [6, 7, 8])
        #expect((0..<8).map(example.role(at:)) == ["data", "noise", "data", "noise", "data", "marker", "answer", "answer"])
        var forced = blank
        forced.answerInputs = .previous
        #expect(!forced.readsOtherInputs)
        let teacherForced = SyntheticExample(task: forced, length: 8, starts: [0, 2, 4], values: [4, 7, 2], contentKey: 0)
        #expect(teacherForced.ids == [4, 0, 7, 0, 2, 1, 4, 7, 2])
        #expect(teacherForced.inputIds == [4, 0, 7, 0, 2, 1, 4, 7])
        // One data token: the marker is the only answer input, the same in both forms.
        let one = SyntheticExample(
            task: SyntheticTask(kind: .selectiveCopying, vocabularySize: 4, dataTokens: 1), length: 3, starts: [1], values: [3], contentKey: 0)
        #expect(one.ids == [0, 3, 1, 3] && one.inputIds == [0, 3, 1])
        // Induction heads reads its own ids whatever the setting.
        let induction = SyntheticTask(kind: .inductionHeads, vocabularySize: 2, queries: 2, answerInputs: .blank)
        #expect(!induction.readsOtherInputs)
        let row = SyntheticExample(task: induction, length: 9, starts: [1, 4, 8], values: [1], contentKey: 77)
        #expect(row.inputIds == Array(row.ids.dropLast()))
        #expect((0..<9).map(row.role(at:)) == [
            "content", "trigger", "after trigger", "content", "trigger", "after trigger", "content", "content", "trigger",
        ])
    }

    @Test func anInductionHeadsRowRepeatsTheIdAfterEveryTrigger() {
        // With a vocabulary of 2 every content id is 1, so the row can be written by hand.
        let task = SyntheticTask(kind: .inductionHeads, vocabularySize: 2, queries: 2)
        let example = SyntheticExample(task: task, length: 9, starts: [1, 4, 8], values: [1], contentKey: 77)
        #expect(example.ids == [1, 0, 1, 1, 0, 1, 1, 1, 0, 1])
        #expect(example.answerPositions == [5, 9])
        let wider = SyntheticTask(kind: .inductionHeads, vocabularySize: 16, queries: 1)
        let row = SyntheticExample(task: wider, length: 8, starts: [2, 7], values: [9], contentKey: 5).ids
        #expect(row[2] == 0 && row[3] == 9 && row[7] == 0 && row[8] == 9)
        #expect([0, 1, 4, 5, 6].allSatisfy { (1..<16).contains(row[$0]) })
    }

    // MARK: The seeded generators

    @Test func selectiveCopyingExamplesHoldTheirDataScatteredInTheBody() {
        let task = SyntheticTask(kind: .selectiveCopying, vocabularySize: 16, dataTokens: 8)
        for index in 0..<200 {
            let ids = task.example(length: 40, seed: 3, index: index).ids
            #expect(ids.count == 41)
            let body = ids[0..<32]
            let data = body.filter { $0 != SyntheticTask.noise }
            #expect(data.count == 8 && data.allSatisfy { (2..<16).contains($0) })
            #expect(ids[32] == SyntheticTask.marker)
            #expect(Array(ids[33...]) == Array(data))
        }
        // Positions are spread over the whole body, not bunched at one end.
        var first = 0, last = 0
        for index in 0..<400 {
            let ids = task.example(length: 40, seed: 4, index: index).ids
            if ids[0] != 0 { first += 1 }
            if ids[31] != 0 { last += 1 }
        }
        // Each body position holds data with probability 8/32 = 1/4.
        #expect(abs(first - 100) < 35 && abs(last - 100) < 35, "\(first) \(last)")
    }

    @Test func inductionHeadsExamplesPlaceTheirTriggersApartAndEndOnAQuery() {
        let task = SyntheticTask(kind: .inductionHeads, vocabularySize: 16, queries: 3)
        for index in 0..<200 {
            let example = task.example(length: 30, seed: 9, index: index)
            let ids = example.ids
            let triggers = ids.indices.filter { ids[$0] == SyntheticTask.trigger }
            #expect(triggers.count == 4 && triggers.last == 29)
            let value = ids[triggers[0] + 1]
            #expect(value != SyntheticTask.trigger)
            #expect(triggers.allSatisfy { ids[$0 + 1] == value })
            #expect(example.answerPositions == triggers.dropFirst().map { $0 + 1 })
        }
    }

    @Test func mixedQueriesDrawEachRowsCountFromOneToTheMost() {
        let mixed = SyntheticTask(kind: .inductionHeads, vocabularySize: 16, queries: 4, mixedQueries: true)
        var seen = [Int](repeating: 0, count: 5)
        for index in 0..<400 {
            let example = mixed.example(length: 40, seed: 2, index: index)
            let ids = example.ids
            let triggers = ids.indices.filter { ids[$0] == SyntheticTask.trigger }
            // Every row still ends on a query, repeats one X after every trigger and answers all but the first.
            #expect(triggers.last == 39 && (2...5).contains(triggers.count))
            #expect(triggers.allSatisfy { ids[$0 + 1] == ids[triggers[0] + 1] })
            #expect(example.answerPositions == triggers.dropFirst().map { $0 + 1 })
            seen[example.answerPositions.count] += 1
        }
        // 100 rows expected with each count 1...4.
        #expect(seen[0] == 0 && seen[1...].allSatisfy { abs($0 - 100) < 40 }, "\(seen)")
        // Without mixing, every row has exactly `queries`.
        let fixed = SyntheticTask(kind: .inductionHeads, vocabularySize: 16, queries: 4)
        #expect((0..<50).allSatisfy { fixed.example(length: 40, seed: 2, index: $0).answerPositions.count == 4 })
    }

    @Test func examplesAreAPureFunctionOfSeedIndexAndLength() {
        let task = SyntheticTask(kind: .inductionHeads)
        let a = task.example(length: 64, seed: 1, index: 5).ids
        #expect(a == task.example(length: 64, seed: 1, index: 5).ids)
        #expect(a != task.example(length: 64, seed: 1, index: 6).ids)
        #expect(a != task.example(length: 64, seed: 2, index: 5).ids)
        // A million-token example is read position by position without materialising it.
        let long = task.example(length: 1 << 20, seed: 1, index: 0)
        #expect(long.answerPositions == [1 << 20])
        #expect(long.token(at: (1 << 20) - 1) == SyntheticTask.trigger)
    }

    @Test func sizesThatCannotMakeARowAreRefused() {
        #expect(SyntheticTask(kind: .selectiveCopying, dataTokens: 16).problem(length: 31) != nil)
        #expect(SyntheticTask(kind: .selectiveCopying, dataTokens: 16).problem(length: 32) == nil)
        #expect(SyntheticTask(kind: .selectiveCopying, vocabularySize: 2).problem(length: 64) != nil)
        #expect(SyntheticTask(kind: .inductionHeads, queries: 2).problem(length: 4) != nil)
        #expect(SyntheticTask(kind: .inductionHeads, queries: 0).problem(length: 64) != nil)
        #expect(throws: DataError.self) {
            try SyntheticBatcher(task: SyntheticTask(kind: .inductionHeads, vocabularySize: 1), batchSize: 2, sequenceLength: 8, seed: 0)
        }
    }

    // MARK: The batcher

    @Test func batchesMarkExactlyTheAnswersAndResumeInConstantTime() throws {
        let task = SyntheticTask(kind: .selectiveCopying, vocabularySize: 8, dataTokens: 3)
        let batcher = try SyntheticBatcher(task: task, batchSize: 4, sequenceLength: 12, seed: 5)
        var taken: [Batch] = []
        for _ in 0..<3 { taken.append(batcher.next()) }
        let batch = taken[2]
        #expect(batch.tokens.count == 4 * 13)
        let counted = try #require(batch.counted)
        for row in 0..<4 {
            #expect((0..<13).filter { counted[row * 13 + $0] } == [10, 11, 12])
        }
        // A fresh batcher restored to position 2 yields batch 2 again, without replaying.
        let other = try SyntheticBatcher(task: task, batchSize: 4, sequenceLength: 12, seed: 5)
        try other.restore(BatcherPosition(epoch: 0, batch: 2, windowCount: 0))
        #expect(other.next().tokens == batch.tokens)
        #expect(batcher.position.batch == 3)
        // Validation draws other examples than training.
        let validation = try SyntheticBatcher(task: task, batchSize: 4, sequenceLength: 12, seed: 5, stream: .validation)
        #expect(validation.batch(epoch: 0, index: 0).tokens != taken[0].tokens)
        #expect(throws: DataError.self) { try other.restore(BatcherPosition(epoch: 1, batch: 0, windowCount: 7)) }
    }

    @Test func blankedBatchesCarryTheIdsTheModelReads() throws {
        let task = SyntheticTask(kind: .selectiveCopying, vocabularySize: 8, dataTokens: 3)
        let batch = try SyntheticBatcher(task: task, batchSize: 2, sequenceLength: 12, seed: 5).next()
        let inputs = try #require(batch.inputs)
        #expect(inputs.count == 2 * 13)
        for row in 0..<2 {
            let ids = Array(batch.tokens[(row * 13)..<(row * 13 + 13)]), read = Array(inputs[(row * 13)..<(row * 13 + 12)])
            // The body and the marker as in the row, then blanks where the answers 1 and 2 were.
            #expect(Array(read[0...9]) == Array(ids[0...9]) && ids[9] == SyntheticTask.marker)
            #expect(read[10] == SyntheticTask.noise && read[11] == SyntheticTask.noise)
            #expect(ids[10] != SyntheticTask.noise && ids[11] != SyntheticTask.noise)
        }
        var forced = task
        forced.answerInputs = .previous
        #expect(try SyntheticBatcher(task: forced, batchSize: 2, sequenceLength: 12, seed: 5).next().inputs == nil)
    }

    @Test func ranksTakeDisjointRowsOfTheSameGlobalBatch() throws {
        let task = SyntheticTask(kind: .inductionHeads, vocabularySize: 16)
        let whole = try SyntheticBatcher(task: task, batchSize: 5, sequenceLength: 16, seed: 1).batch(epoch: 0, index: 3).tokens
        let parts = try (0..<2).map { rank in
            try SyntheticBatcher(task: task, batchSize: 5, sequenceLength: 16, seed: 1, rank: rank, worldSize: 2).batch(epoch: 0, index: 3).tokens
        }
        #expect(parts[0] + parts[1] == whole)
    }

    @Test func floydSamplingIsUniformAndDistinct() {
        var random = SplitMix64(seed: 11)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<2000 {
            let picked = SyntheticTask.distinctSorted(3, below: 10, random: &random)
            #expect(picked.count == 3 && Set(picked).count == 3 && picked == picked.sorted() && picked.allSatisfy { (0..<10).contains($0) })
            for p in picked { counts[p] += 1 }
        }
        // 600 expected per value.
        #expect(counts.allSatisfy { abs($0 - 600) < 90 }, "\(counts)")
    }
}
