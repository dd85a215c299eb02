// SyntheticTasks.swift — the synthetic tasks of the Mamba paper (Gu & Dao, "Mamba: Linear-Time
// Sequence Modeling with Selective State Spaces", 2023, §4.1 and appendix E.1), generated on
// the fly from a seed, with no files:
//
// - Selective copying: K data tokens scattered among noise must be reproduced, in order,
//   after a marker. A row of L + 1 ids is M = L − K body ids (K data ids at distinct uniform
//   positions, noise elsewhere), the marker, then the K data ids; the K ids after the marker
//   are the answers. Ids: 0 noise, 1 marker, 2..<V data.
// - Induction heads: after a trigger, recall the id that followed the trigger's previous
//   occurrence. A row of L + 1 ids is uniform content ids with `queries + 1` (trigger, X)
//   pairs at non-overlapping uniform positions, the last pair at the very end (trigger at
//   L − 1, X at L); the X of every pair but the first is an answer. Ids: 0 trigger, 1..<V
//   content. With one query (the paper's task) the only answer is the last id. With mixed
//   queries each row draws its number of queries from 1...`queries`.
//
// Rows are next-token rows as the Batcher yields them (inputs ids 0..<L, targets ids 1...L),
// so the answers are targets of the ids before them. Selective copying's answers are not
// inputs in the paper's form (`CopyAnswerInputs.blank`): the model reads the marker, then a
// blank (the noise id) at every later answer position, so it must recall each data id from
// the body alone; `.previous` reads the answer already given instead (teacher forcing), an
// easier task. The batcher then gives the ids the model reads beside the row (`inputs`). The
// loss and the accuracy count answers only.
//
// Example i of a stream is a pure function of (seed, stream, length, i): any batch can be
// computed directly, so a position is a batch index and restoring it is O(1). An example is a
// small plan (positions and ids) plus a hash per position for the content, so `token(at:)`
// streams an example of any length (2^20 and beyond) in constant memory.
//
// Dimension letters: B batch size, L sequence length, V vocabulary, K data tokens.

/// Which synthetic task.
public enum SyntheticTaskKind: String, Sendable, Codable, CaseIterable {
    /// Reproduce the data tokens scattered among noise, in order, after a marker.
    case selectiveCopying = "selective_copying"
    /// After a trigger, recall the id that followed its previous occurrence.
    case inductionHeads = "induction_heads"
}

/// What selective copying's model reads at the answer positions after the first (the marker
/// comes before the first answer either way).
public enum CopyAnswerInputs: String, Sendable, Codable, CaseIterable {
    /// The paper's form: a blank (the noise id) at each, so the answers are never inputs.
    case blank
    /// The answer before it (teacher forcing): the model sees the answers already given.
    case previous
}

/// A synthetic task and its sizes.
public struct SyntheticTask: Equatable, Sendable {
    public var kind: SyntheticTaskKind
    /// V: ids in all, the special ids included.
    public var vocabularySize: Int
    /// K: selective copying's data tokens a row.
    public var dataTokens: Int
    /// Induction heads' answered trigger occurrences a row (1: only the last, as in the paper);
    /// with `mixedQueries`, the most a row has.
    public var queries: Int
    /// Induction heads: each row draws its number of queries uniformly from 1...`queries`, so
    /// that rows with one query (and long gaps between a trigger and its previous occurrence)
    /// and rows with many (more answers) share the training.
    public var mixedQueries: Bool
    /// Selective copying: what the model reads at the answer positions.
    public var answerInputs: CopyAnswerInputs

    /// Selective copying's noise id.
    public static let noise: Int32 = 0
    /// Selective copying's marker id, after which the data tokens are reproduced.
    public static let marker: Int32 = 1
    /// Induction heads' trigger id.
    public static let trigger: Int32 = 0

    public init(
        kind: SyntheticTaskKind, vocabularySize: Int = 16, dataTokens: Int = 16, queries: Int = 1, mixedQueries: Bool = false,
        answerInputs: CopyAnswerInputs = .blank
    ) {
        self.kind = kind
        self.vocabularySize = vocabularySize
        self.dataTokens = dataTokens
        self.queries = queries
        self.mixedQueries = mixedQueries
        self.answerInputs = answerInputs
    }

    /// True when the ids the model reads differ from the row's (the row's ids stay the targets).
    public var readsOtherInputs: Bool { kind == .selectiveCopying && answerInputs == .blank }

    /// Answers in one row of any length (with mixed queries, the most).
    public var answersPerRow: Int { kind == .selectiveCopying ? dataTokens : queries }

    /// The shortest sequence length L a row fits in.
    public var minimumLength: Int { kind == .selectiveCopying ? 2 * dataTokens : 2 * queries + 1 }

    /// Why rows of `length` cannot be made, or nil when they can.
    public func problem(length: Int) -> String? {
        switch kind {
        case .selectiveCopying:
            if vocabularySize < 3 { return "selective copying needs a vocabulary of at least 3 (noise, marker, one data id); got \(vocabularySize)" }
            if dataTokens < 1 { return "selective copying needs at least 1 data token (got \(dataTokens))" }
        case .inductionHeads:
            if vocabularySize < 2 { return "induction heads needs a vocabulary of at least 2 (trigger, one content id); got \(vocabularySize)" }
            if queries < 1 { return "induction heads needs at least 1 query (got \(queries))" }
        }
        if vocabularySize > Int(Int32.max) { return "the vocabulary \(vocabularySize) does not fit 32-bit ids" }
        if length < minimumLength || length == Int.max {
            return "a sequence length of \(length) is too short for \(kind.rawValue) with these sizes (at least \(minimumLength))"
        }
        return nil
    }

    /// Example `index` of the stream `seed` at `length`: L + 1 ids. The length must be at
    /// least `minimumLength` and the task valid (`problem(length:)` nil).
    public func example(length: Int, seed: UInt64, index: Int) -> SyntheticExample {
        precondition(problem(length: length) == nil, "SyntheticTask.example: \(problem(length: length) ?? "")")
        var random = SplitMix64(seed: SplitMix64.mix(seed ^ 0x5EED_C0DE) ^ SplitMix64.mix(UInt64(length) &* 0x100_0000_01B3 &+ UInt64(index)))
        switch kind {
        case .selectiveCopying:
            let body = length - dataTokens
            let positions = Self.distinctSorted(dataTokens, below: body, random: &random)
            let ids = (0..<dataTokens).map { _ in 2 + Int32(Self.uniform(vocabularySize - 2, &random)) }
            return SyntheticExample(task: self, length: length, starts: positions, values: ids, contentKey: 0)
        case .inductionHeads:
            // Pair starts s_i = a_i + i over distinct sorted a_i < L − 1 − count never overlap
            // and end before L − 1, where the last pair starts.
            let count = mixedQueries ? 1 + Self.uniform(queries, &random) : queries
            var starts = Self.distinctSorted(count, below: length - 1 - count, random: &random)
            for i in starts.indices { starts[i] += i }
            starts.append(length - 1)
            let value = 1 + Int32(Self.uniform(vocabularySize - 1, &random))
            return SyntheticExample(task: self, length: length, starts: starts, values: [value], contentKey: random.next())
        }
    }

    /// A uniform integer in 0..<bound (Lemire's multiply-high; bound ≥ 1).
    static func uniform(_ bound: Int, _ random: inout SplitMix64) -> Int {
        Int(UInt64(bound).multipliedFullWidth(by: random.next()).high)
    }

    /// `count` distinct integers in 0..<bound, sorted (Floyd's sampling: O(count log count)).
    static func distinctSorted(_ count: Int, below bound: Int, random: inout SplitMix64) -> [Int] {
        var chosen = Set<Int>(minimumCapacity: count)
        for j in (bound - count)..<bound {
            let pick = uniform(j + 1, &random)
            chosen.insert(chosen.contains(pick) ? j : pick)
        }
        return chosen.sorted()
    }
}

/// One example of a synthetic task: L + 1 ids, read by position, and where its answers are.
public struct SyntheticExample: Sendable {
    public let task: SyntheticTask
    /// L: the row holds L + 1 ids.
    public let length: Int
    /// Selective copying: the data ids' body positions (K, sorted). Induction heads: the
    /// pairs' trigger positions (queries + 1, sorted, the last L − 1).
    let starts: [Int]
    /// Selective copying: the data ids (K). Induction heads: X, the id after every trigger.
    let values: [Int32]
    /// Induction heads: keys the hash that draws the content ids.
    let contentKey: UInt64

    /// The id at `position` (0...L).
    public func token(at position: Int) -> Int32 {
        switch task.kind {
        case .selectiveCopying:
            let body = length - task.dataTokens
            if position == body { return SyntheticTask.marker }
            if position > body { return values[position - body - 1] }
            let index = Self.search(starts, position)
            return index < starts.count && starts[index] == position ? values[index] : SyntheticTask.noise
        case .inductionHeads:
            let index = Self.search(starts, position)
            if index < starts.count && starts[index] == position { return SyntheticTask.trigger }
            if index > 0 && starts[index - 1] == position - 1 { return values[0] }
            let bound = UInt64(task.vocabularySize - 1)
            return 1 + Int32(bound.multipliedFullWidth(by: SplitMix64.mix(contentKey ^ UInt64(position))).high)
        }
    }

    /// The id the model reads at `position` (0..<L): the row's id, except at selective
    /// copying's answer positions after the first in the `.blank` form, which read the noise id.
    public func input(at position: Int) -> Int32 {
        if task.readsOtherInputs && position > length - task.dataTokens { return SyntheticTask.noise }
        return token(at: position)
    }

    /// What the id the model reads at `position` (0..<L) is, for diagnostics: selective copying
    /// "noise", "data", "marker" or "answer" (a blank or earlier answer at an answer position);
    /// induction heads "trigger", "after trigger" (the X to recall) or "content".
    public func role(at position: Int) -> String {
        switch task.kind {
        case .selectiveCopying:
            let body = length - task.dataTokens
            if position == body { return "marker" }
            if position > body { return "answer" }
            return token(at: position) == SyntheticTask.noise ? "noise" : "data"
        case .inductionHeads:
            let index = Self.search(starts, position)
            if index < starts.count && starts[index] == position { return "trigger" }
            if index > 0 && starts[index - 1] == position - 1 { return "after trigger" }
            return "content"
        }
    }

    /// The positions whose ids are answers (targets the loss and the accuracy count), sorted.
    public var answerPositions: [Int] {
        switch task.kind {
        case .selectiveCopying:
            return Array((length - task.dataTokens + 1)...length)
        case .inductionHeads:
            return starts.dropFirst().map { $0 + 1 }
        }
    }

    /// All L + 1 ids.
    public var ids: [Int32] { (0...length).map(token(at:)) }

    /// The L ids the model reads (`ids` without its last, unless answers are blanked).
    public var inputIds: [Int32] { (0..<length).map(input(at:)) }

    /// The first index of `sorted` whose element is ≥ `value`.
    static func search(_ sorted: [Int], _ value: Int) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// Which stream of examples a batcher draws: training and validation never share an example.
public enum SyntheticStream: UInt64, Sendable {
    case train = 0
    case validation = 1
}

/// Batches of a synthetic task in the Batcher's form: (rows, L + 1) ids and which are counted
/// (the answers). The epoch never ends; batch b holds examples b·B ..< (b + 1)·B of the stream,
/// whatever the number of ranks (rank r of R takes its rows ⌊r·B/R⌋ ..< ⌊(r+1)·B/R⌋), so a
/// position is a batch index and restoring it is O(1).
public final class SyntheticBatcher: BatchSource {
    public let task: SyntheticTask
    public let batchSize: Int
    public let sequenceLength: Int
    public let rows: Range<Int>
    /// The seed of the stream's examples.
    public let streamSeed: UInt64
    /// An endless epoch.
    public var batchesPerEpoch: Int { Int.max }
    public private(set) var position = BatcherPosition(epoch: 0, batch: 0, windowCount: 0)

    public init(
        task: SyntheticTask, batchSize: Int, sequenceLength: Int, seed: UInt64, stream: SyntheticStream = .train,
        rank: Int = 0, worldSize: Int = 1
    ) throws {
        guard batchSize >= 1 else { throw DataError.invalidArgument("batch size must be at least 1 (got \(batchSize))") }
        guard worldSize >= 1, rank >= 0, rank < worldSize, worldSize <= batchSize else {
            throw DataError.invalidArgument("rank \(rank) of \(worldSize) cannot take rows of a batch of \(batchSize)")
        }
        if let problem = task.problem(length: sequenceLength) { throw DataError.invalidArgument(problem) }
        self.task = task
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        rows = (rank * batchSize / worldSize)..<((rank + 1) * batchSize / worldSize)
        streamSeed = SplitMix64.mix(seed) ^ SplitMix64.mix(stream.rawValue &+ 0xA5A5)
    }

    public func restore(_ position: BatcherPosition) throws {
        guard position.epoch == 0, position.batch >= 0, position.windowCount == 0 else {
            throw DataError.invalidArgument(
                "the saved data position (epoch \(position.epoch), batch \(position.batch), \(position.windowCount) windows) is not a synthetic task's")
        }
        self.position = position
    }

    public func next() -> Batch {
        let taken = position
        let (tokens, counted, inputs) = batch(epoch: 0, index: taken.batch)
        position.batch += 1
        return Batch(
            tokens: tokens, counted: counted, inputs: inputs, batchSize: rows.count, sequenceLength: sequenceLength, epoch: 0, index: taken.batch)
    }

    public func batch(epoch: Int, index: Int) -> (tokens: [Int32], counted: [Bool]?, inputs: [Int32]?) {
        let rowLength = sequenceLength + 1
        var tokens = [Int32](repeating: 0, count: rows.count * rowLength)
        var counted = [Bool](repeating: false, count: rows.count * rowLength)
        var inputs = task.readsOtherInputs ? [Int32](repeating: 0, count: rows.count * rowLength) : nil
        for (row, slot) in rows.enumerated() {
            let example = task.example(length: sequenceLength, seed: streamSeed, index: index * batchSize + slot)
            for t in 0..<rowLength { tokens[row * rowLength + t] = example.token(at: t) }
            for t in example.answerPositions { counted[row * rowLength + t] = true }
            if inputs != nil {
                for t in 0..<sequenceLength { inputs?[row * rowLength + t] = example.input(at: t) }
            }
        }
        return (tokens, counted, inputs)
    }
}
