// LengthExtrapolation.swift — a synthetic-task model's accuracy at test lengths beyond the one
// it trained at, as in the Mamba paper's induction-heads figure (train at 256, test from 2^6
// to 2^20). The model runs in its recurrent form (`RecurrentBatch`): memory stays constant and
// time grows linearly with the length, and only the answer positions are scored. The test
// examples come from their own stream of the task, seeded per length, so runs and lengths are
// comparable and never reuse a training example.

import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanNN
import TaipanTensor

/// The accuracy of one model at one test length.
public struct LengthAccuracy: Sendable, Equatable {
    /// The test sequence length L.
    public var length: Int
    /// Answers scored, and how many the argmax predicted.
    public var answers: Int, correct: Int
    /// Seconds the length took.
    public var seconds: Double

    public var accuracy: Double { Double(correct) / Double(max(answers, 1)) }
}

/// One model's accuracy curve.
public struct LengthCurve: Sendable {
    /// What the chart's legend and the table call it: `S6`, `LTI`, `S6 no gate`, `LTI no gate`.
    public var mixer: String
    public var task: SyntheticTaskKind
    /// The sequence length the model trained at.
    public var trainLength: Int
    public var model: String
    public var points: [LengthAccuracy]
}

/// A layer's time steps Δ at the positions of one role (`SyntheticExample.role(at:)`): how
/// much those ids make the state forget (the decay is e^(Δ·A) with A < 0) and write.
public struct TimeStepStatistics: Sendable, Equatable {
    public var layer: Int
    public var role: String
    /// Positions of the role over the test sequences.
    public var positions: Int
    /// The mean Δ over the positions and the channels.
    public var mean: Double
    /// The smallest and the largest per-channel mean Δ (the channels that forget least and most).
    public var leastChannelMean: Double, mostChannelMean: Double
}

public enum LengthExtrapolation {
    /// The seed stream test examples are drawn from (kept apart from training and validation).
    static let testStreamSalt: UInt64 = 0x7E57_0000

    /// The mixer's name as the results table writes it.
    public static func mixerName(_ config: MambaConfig) -> String {
        (config.mixer == .s6 ? "S6" : "LTI") + (config.gated ? "" : " no gate")
    }

    /// Evaluates `target` (a run's config file or a checkpoint directory of a synthetic-task run)
    /// on `sequences` test examples at each of `lengths`, with `threads` sequences' groups in
    /// parallel; `progress` gets a line per length. `queries` replaces an induction-heads run's
    /// answered triggers a row (1 is the paper's test: one query at the very end).
    public static func run(
        target: String, lengths: [Int], sequences: Int, seed: UInt64 = 0, queries: Int? = nil, threads: Int,
        progress: (String) -> Void = { _ in }
    ) throws -> LengthCurve {
        let (config, modelDirectory) = try Evaluation.resolve(target: target)
        guard var task = config.syntheticTask else {
            throw TrainError.config("data.source: \(target) trained on files (data.source = \"files\"); length extrapolation needs a synthetic task run")
        }
        if let queries {
            guard task.kind == .inductionHeads else { throw TrainError.run("--queries: only induction_heads runs have queries") }
            task.queries = queries
            task.mixedQueries = false
        }
        guard sequences >= 1 else { throw TrainError.run("--sequences: at least 1 (got \(sequences))") }
        if let bad = lengths.first(where: { task.problem(length: $0) != nil }) {
            throw TrainError.run("--lengths: \(task.problem(length: bad) ?? "")")
        }
        let model = try MambaLM.load(directory: modelDirectory)
        guard model.config.vocabSize >= task.vocabularySize else {
            throw TrainError.config("backbone.embeddings.weight: the model's vocabulary (\(model.config.vocabSize)) is smaller than the task's (\(task.vocabularySize))")
        }
        var points: [LengthAccuracy] = []
        for length in lengths {
            let started = DispatchTime.now().uptimeNanoseconds
            let (answers, correct) = try score(model: model, task: task, length: length, sequences: sequences, seed: seed, threads: threads)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let point = LengthAccuracy(length: length, answers: answers, correct: correct, seconds: seconds)
            points.append(point)
            progress("\(task.kind.rawValue) \(mixerName(model.config)): length \(length): " + String(format: "%.2f%% of %d answers (%.1f s)", 100 * point.accuracy, answers, seconds))
        }
        return LengthCurve(mixer: mixerName(model.config), task: task.kind, trainLength: config.data.sequenceLength, model: modelDirectory, points: points)
    }

    /// The time steps Δ of every layer of `target`'s model over `sequences` test examples of
    /// `length` (the test stream of `run`, `queries` as there), by layer and role, single-threaded.
    public static func timeSteps(target: String, length: Int, sequences: Int, seed: UInt64 = 0, queries: Int? = nil) throws -> [TimeStepStatistics] {
        let (config, modelDirectory) = try Evaluation.resolve(target: target)
        guard var task = config.syntheticTask else {
            throw TrainError.config("data.source: \(target) trained on files (data.source = \"files\"); time steps are reported for synthetic task runs")
        }
        if let queries, task.kind == .inductionHeads {
            task.queries = queries
            task.mixedQueries = false
        }
        if let problem = task.problem(length: length) { throw TrainError.run("--lengths: \(problem)") }
        guard sequences >= 1 else { throw TrainError.run("--sequences: at least 1 (got \(sequences))") }
        let model = try MambaLM.load(directory: modelDirectory)
        guard model.config.vocabSize >= task.vocabularySize else {
            throw TrainError.config("backbone.embeddings.weight: the model's vocabulary (\(model.config.vocabSize)) is smaller than the task's (\(task.vocabularySize))")
        }
        let streamSeed = SplitMix64.mix(seed) ^ testStreamSalt
        let examples = (0..<sequences).map { task.example(length: length, seed: streamSeed, index: $0) }
        let inner = model.config.intermediateSize
        // Per (layer, role): the sum of Δ per channel, and the positions.
        var sums: [String: [Double]] = [:], counts: [String: Int] = [:]
        var roles = [String](repeating: "", count: sequences)
        let recurrence = try RecurrentBatch(model: model, batch: sequences)
        recurrence.observeTimeSteps = { layer, steps in
            for (row, role) in roles.enumerated() {
                let key = "\(layer)\u{1}\(role)"
                var sum = sums[key] ?? [Double](repeating: 0, count: inner)
                for e in 0..<inner { sum[e] += Double(steps[row * inner + e]) }
                sums[key] = sum
                counts[key, default: 0] += 1
            }
        }
        var tokens = [Int32](repeating: 0, count: sequences)
        try Threads.withSingleThreadedBLAS { () throws -> Void in
            for t in 0..<length {
                for (row, example) in examples.enumerated() {
                    tokens[row] = example.input(at: t)
                    roles[row] = example.role(at: t)
                }
                try recurrence.step(tokens)
            }
        }
        return sums.keys.sorted().map { key in
            let parts = key.split(separator: "\u{1}", maxSplits: 1).map(String.init)
            let count = counts[key] ?? 1, sum = sums[key] ?? []
            let channelMeans = sum.map { $0 / Double(count) }
            return TimeStepStatistics(
                layer: Int(parts[0]) ?? 0, role: parts.count > 1 ? parts[1] : "", positions: count,
                mean: channelMeans.reduce(0, +) / Double(max(channelMeans.count, 1)),
                leastChannelMean: channelMeans.min() ?? 0, mostChannelMean: channelMeans.max() ?? 0)
        }
    }

    /// Answers and correct answers of `sequences` test examples of `length`, the sequences
    /// split into `threads` groups that each step in lockstep on one thread.
    static func score(model: MambaLM, task: SyntheticTask, length: Int, sequences: Int, seed: UInt64, threads: Int) throws -> (answers: Int, correct: Int) {
        let streamSeed = SplitMix64.mix(seed) ^ testStreamSalt
        let examples = (0..<sequences).map { task.example(length: length, seed: streamSeed, index: $0) }
        let groups = max(1, min(threads, sequences))
        var answers = [Int](repeating: 0, count: groups), correct = [Int](repeating: 0, count: groups)
        var failure: Error?
        let lock = NSLock()
        Threads.withSingleThreadedBLAS {
            answers.withUnsafeMutableBufferPointer { answerCounts in
                correct.withUnsafeMutableBufferPointer { correctCounts in
                    parallelChunks(count: sequences, chunks: groups) { group, rows in
                        do {
                            let counts = try scoreGroup(model: model, examples: Array(examples[rows]))
                            answerCounts[group] = counts.answers
                            correctCounts[group] = counts.correct
                        } catch {
                            lock.lock()
                            failure = failure ?? error
                            lock.unlock()
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        return (answers.reduce(0, +), correct.reduce(0, +))
    }

    /// Steps `examples` (of one length) through the recurrence together: the id the model reads
    /// at position t goes in (selective copying's blanked answers are never read), and where id
    /// t + 1 is an answer, the argmax of the logits is compared with it.
    static func scoreGroup(model: MambaLM, examples: [SyntheticExample]) throws -> (answers: Int, correct: Int) {
        let recurrence = try RecurrentBatch(model: model, batch: examples.count)
        let length = examples[0].length
        let answerLists = examples.map(\.answerPositions)
        var cursors = [Int](repeating: 0, count: examples.count)
        var tokens = [Int32](repeating: 0, count: examples.count)
        var answers = 0, correct = 0
        for t in 0..<length {
            for (row, example) in examples.enumerated() { tokens[row] = example.input(at: t) }
            try recurrence.step(tokens)
            for row in examples.indices {
                let list = answerLists[row]
                guard cursors[row] < list.count, list[cursors[row]] == t + 1 else { continue }
                cursors[row] += 1
                let logits = recurrence.logits(row: row)
                var best = 0
                for v in 1..<logits.count where logits[v] > logits[best] { best = v }
                answers += 1
                if Int32(best) == examples[row].token(at: t + 1) { correct += 1 }
            }
        }
        return (answers, correct)
    }
}
