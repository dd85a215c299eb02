import Foundation
import Testing
@testable import TaipanNN
import TaipanTensor
import TaipanTestSupport

/// One scan problem laid out the way the model lays it out: u and z are column slices of an
/// in_proj output (B·L, 2E + 3), B and C column slices of an x_proj output (B·L, 2N + 4), with
/// padding columns around them that no kernel may touch; delta is dense (B·L, E).
private struct Problem {
    let batch: Int, length: Int, channels: Int, stateSize: Int, interval: Int
    var projectionWidth: Int { 2 * channels + 3 }
    var uOffset: Int { 1 }
    var zOffset: Int { channels + 2 }
    var xWidth: Int { 2 * stateSize + 4 }
    var bOffset: Int { 2 }
    var cOffset: Int { stateSize + 3 }
    var rows: Int { batch * length }

    /// Buffer sizes, in the order of `Inputs.buffers`: projection, delta, x projection, A, D, bias.
    var sizes: [Int] {
        [rows * projectionWidth, rows * channels, rows * xWidth, channels * stateSize, channels, channels]
    }

    func layout() throws -> SelectiveScanLayout {
        try SelectiveScanLayout(
            batch: batch, length: length, channels: channels, stateSize: stateSize,
            checkpointInterval: interval, uRowStride: projectionWidth, zRowStride: projectionWidth,
            bRowStride: xWidth, cRowStride: xWidth)
    }

    /// Random inputs in the ranges a trained Mamba sees: A in [−4, −0.5], Δ around softplus(−1).
    func randomInputs(seed: UInt64) -> [[Float]] {
        var generator = SeededGenerator(seed: seed)
        let projection = (0..<sizes[0]).map { _ in generator.nextNormal() }
        let delta = (0..<sizes[1]).map { _ in 0.5 * generator.nextNormal() }
        let x = (0..<sizes[2]).map { _ in generator.nextNormal() }
        let a = (0..<sizes[3]).map { _ in -0.5 - 3.5 * generator.nextUniform() }
        let d = (0..<sizes[4]).map { _ in generator.nextNormal() }
        let bias = (0..<sizes[5]).map { _ in -2 + 2.5 * generator.nextUniform() }
        return [projection, delta, x, a, d, bias]
    }

    /// The naive Float64 scan: y (B, L, E) and every state h_t (B, L, E, N).
    func reference(_ inputs: [[Double]]) -> (y: [Double], states: [Double]) {
        let (projection, delta, x, a, d, bias) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5])
        var y = [Double](repeating: 0, count: rows * channels)
        var states = [Double](repeating: 0, count: rows * channels * stateSize)
        for b in 0..<batch {
            for e in 0..<channels {
                var h = [Double](repeating: 0, count: stateSize)
                for t in 0..<length {
                    let row = b * length + t
                    let preactivation = delta[row * channels + e] + bias[e]
                    let step = preactivation > 30 ? preactivation : log1p(exp(preactivation))
                    let u = projection[row * projectionWidth + uOffset + e]
                    let z = projection[row * projectionWidth + zOffset + e]
                    var output = d[e] * u
                    for n in 0..<stateSize {
                        h[n] = exp(step * a[e * stateSize + n]) * h[n]
                            + step * x[row * xWidth + bOffset + n] * u
                        output += h[n] * x[row * xWidth + cOffset + n]
                        states[(row * channels + e) * stateSize + n] = h[n]
                    }
                    y[row * channels + e] = output * z / (1 + exp(-z))
                }
            }
        }
        return (y, states)
    }
}

/// Copies `arrays` into buffers the kernels can take, runs `body` on them and returns their
/// contents afterwards.
private func withBuffers(_ arrays: [[Float]], _ body: ([UnsafeMutablePointer<Float>]) -> Void) -> [[Float]] {
    let buffers = arrays.map { array in
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(array.count, 1))
        buffer.initialize(from: array, count: array.count)
        return buffer
    }
    defer { buffers.forEach { $0.deallocate() } }
    body(buffers)
    return zip(buffers, arrays).map { Array(UnsafeBufferPointer(start: $0, count: $1.count)) }
}

/// Runs the forward kernel; returns y (B, L, E), the checkpoints (B, Q, E, N), the final state (B, E, N).
private func runForward(_ problem: Problem, _ inputs: [[Float]], threads: Int) throws
    -> (y: [Float], checkpoints: [Float], finalState: [Float])
{
    let layout = try problem.layout()
    let outputs = [
        [Float](repeating: .nan, count: problem.rows * problem.channels),
        [Float](repeating: .nan, count: problem.batch * layout.checkpointCount * problem.channels * problem.stateSize),
        [Float](repeating: .nan, count: problem.batch * problem.channels * problem.stateSize),
    ]
    let results = withBuffers(outputs + inputs) { buffers in
        let (projection, delta, x) = (buffers[3], buffers[4], buffers[5])
        selectiveScanForward(
            y: buffers[0], checkpoints: buffers[1], finalState: buffers[2],
            u: projection + problem.uOffset, delta: delta, z: projection + problem.zOffset,
            b: x + problem.bOffset, c: x + problem.cOffset,
            a: buffers[6], d: buffers[7], deltaBias: buffers[8], layout: layout, threads: threads)
    }
    return (results[0], results[1], results[2])
}

/// Runs forward then backward with dy = `weights`, into gradient buffers that start at `start`
/// (the same sizes as the inputs); returns them, to be compared less `start`.
private func runBackward(
    _ problem: Problem, _ inputs: [[Float]], weights: [Float], start: [[Float]], threads: Int
) throws -> [[Float]] {
    let layout = try problem.layout()
    let checkpoints = try runForward(problem, inputs, threads: threads).checkpoints
    let results = withBuffers(start + inputs + [weights, checkpoints]) { buffers in
        let (dProjection, dX) = (buffers[0], buffers[2])
        let (projection, delta, x) = (buffers[6], buffers[7], buffers[8])
        selectiveScanBackward(
            du: dProjection + problem.uOffset, dDelta: buffers[1], dz: dProjection + problem.zOffset,
            dB: dX + problem.bOffset, dC: dX + problem.cOffset,
            dA: buffers[3], dD: buffers[4], dDeltaBias: buffers[5],
            dy: buffers[12], checkpoints: buffers[13],
            u: projection + problem.uOffset, delta: delta, z: projection + problem.zOffset,
            b: x + problem.bOffset, c: x + problem.cOffset,
            a: buffers[9], d: buffers[10], deltaBias: buffers[11], layout: layout, threads: threads)
    }
    return Array(results[0..<6])
}

/// Central differences in Float64 of Σ weights ⊙ y with respect to the elements `indices` of each
/// input buffer (nil: every element, padding columns included, whose derivative is exactly zero).
private func finiteDifferences(
    _ problem: Problem, _ inputs: [[Float]], weights: [Float], indices: [[Int]]? = nil
) -> [[Double]] {
    var point = inputs.map { $0.map(Double.init) }
    let weights = weights.map(Double.init)
    func objective(_ point: [[Double]]) -> Double {
        zip(problem.reference(point).y, weights).reduce(0) { $0 + $1.0 * $1.1 }
    }
    let epsilon = 1e-5
    return (0..<point.count).map { buffer in
        (indices?[buffer] ?? Array(0..<point[buffer].count)).map { index in
            let saved = point[buffer][index]
            point[buffer][index] = saved + epsilon
            let plus = objective(point)
            point[buffer][index] = saved - epsilon
            let minus = objective(point)
            point[buffer][index] = saved
            return (plus - minus) / (2 * epsilon)
        }
    }
}

/// max |value − reference|, infinite when any value is NaN (which `max` would skip).
private func largestDifference(_ values: [Double], _ reference: [Double]) -> Double {
    zip(values, reference).reduce(0) { worst, pair in
        let difference = abs(pair.0 - pair.1)
        return difference.isNaN ? .infinity : Swift.max(worst, difference)
    }
}

/// max |gradient − reference| / max |reference|, the error measure for one gradient buffer.
private func relativeError(_ gradient: [Double], _ reference: [Double]) -> Double {
    largestDifference(gradient, reference) / max(reference.map(abs).max() ?? 0, 1e-12)
}

private let bufferNames = ["in_proj output (u, z)", "delta", "x_proj output (B, C)", "A", "D", "deltaBias"]

/// B, L, E, N, K: odd E, N = 3, 5, 16, L = 1, batch > 1, K not dividing L, K = L and K > L,
/// and E = 70 for a full group of 64 channels followed by a partial one.
/// `longProblems` run past the 64 rows the forward stages at a time, with K above and below 64.
private let problems = [
    Problem(batch: 1, length: 1, channels: 3, stateSize: 5, interval: 4),
    Problem(batch: 2, length: 9, channels: 11, stateSize: 5, interval: 4),
    Problem(batch: 2, length: 7, channels: 16, stateSize: 16, interval: 3),
    Problem(batch: 3, length: 6, channels: 9, stateSize: 8, interval: 6),
    Problem(batch: 1, length: 5, channels: 19, stateSize: 3, interval: 16),
    Problem(batch: 2, length: 5, channels: 70, stateSize: 3, interval: 2),
]
private let longProblems = [
    Problem(batch: 2, length: 150, channels: 9, stateSize: 4, interval: 100),
    Problem(batch: 1, length: 133, channels: 70, stateSize: 2, interval: 7),
]

@Suite struct SelectiveScanTests {
    @Test(arguments: (problems + longProblems).indices)
    func forwardMatchesFloat64Reference(_ index: Int) throws {
        let problem = (problems + longProblems)[index]
        let inputs = problem.randomInputs(seed: UInt64(100 + index))
        let reference = problem.reference(inputs.map { $0.map(Double.init) })
        for threads in [1, 3] {
            let result = try runForward(problem, inputs, threads: threads)
            let error = relativeError(result.y.map(Double.init), reference.y)
            #expect(error <= 2e-6, "y error \(error), problem \(index)")
            // Checkpoint q is h after step min((q + 1)·K, L) − 1; the last is the final state.
            let layout = try problem.layout(), size = problem.channels * problem.stateSize
            var checkpointed: [Double] = [], expectedStates: [Double] = []
            for b in 0..<problem.batch {
                for q in 0..<layout.checkpointCount {
                    let t = min((q + 1) * problem.interval, problem.length) - 1
                    for i in 0..<size {
                        let expected = reference.states[(b * problem.length + t) * size + i]
                        checkpointed.append(Double(result.checkpoints[(b * layout.checkpointCount + q) * size + i]))
                        expectedStates.append(expected)
                        if q == layout.checkpointCount - 1 {
                            checkpointed.append(Double(result.finalState[b * size + i]))
                            expectedStates.append(expected)
                        }
                    }
                }
            }
            let stateError = relativeError(checkpointed, expectedStates)
            #expect(stateError <= 2e-6, "state error \(stateError), problem \(index)")
        }
    }

    @Test(arguments: problems.indices)
    func backwardMatchesFiniteDifferences(_ index: Int) throws {
        let problem = problems[index]
        let inputs = problem.randomInputs(seed: UInt64(200 + index))
        var generator = SeededGenerator(seed: UInt64(300 + index))
        let weights = (0..<problem.rows * problem.channels).map { _ in generator.nextNormal() }
        // Gradients accumulate: start from nonzero values and compare what was added.
        let start = problem.sizes.map { size in (0..<size).map { _ in Float(generator.nextNormal()) } }
        let gradients = try runBackward(problem, inputs, weights: weights, start: start, threads: 3)
        let expected = finiteDifferences(problem, inputs, weights: weights)
        for buffer in 0..<6 {
            let added = zip(gradients[buffer], start[buffer]).map { Double($0) - Double($1) }
            let error = relativeError(added, expected[buffer])
            #expect(error <= 1e-5, "\(bufferNames[buffer]): relative error \(error), problem \(index)")
        }
        // Columns of the projections that are neither u, z nor B, C are left exactly as they were.
        for row in 0..<problem.rows {
            for column in 0..<problem.projectionWidth
            where !(problem.uOffset..<problem.uOffset + problem.channels).contains(column)
                && !(problem.zOffset..<problem.zOffset + problem.channels).contains(column) {
                let i = row * problem.projectionWidth + column
                #expect(gradients[0][i] == start[0][i])
            }
            for column in 0..<problem.xWidth
            where !(problem.bOffset..<problem.bOffset + problem.stateSize).contains(column)
                && !(problem.cOffset..<problem.cOffset + problem.stateSize).contains(column) {
                let i = row * problem.xWidth + column
                #expect(gradients[2][i] == start[2][i])
            }
        }
    }

    @Test(arguments: longProblems.indices)
    func backwardOnLongSequencesMatchesFiniteDifferencesAtSampledElements(_ index: Int) throws {
        let problem = longProblems[index]
        let inputs = problem.randomInputs(seed: UInt64(600 + index))
        var generator = SeededGenerator(seed: UInt64(700 + index))
        let weights = (0..<problem.rows * problem.channels).map { _ in generator.nextNormal() }
        let zeros = problem.sizes.map { [Float](repeating: 0, count: $0) }
        let gradients = try runBackward(problem, inputs, weights: weights, start: zeros, threads: 2)
        // 40 elements of each buffer, the first and last among them.
        let indices = problem.sizes.map { size in
            [0, size - 1] + (0..<38).map { _ in Int(generator.next() % UInt64(size)) }
        }
        let expected = finiteDifferences(problem, inputs, weights: weights, indices: indices)
        for buffer in 0..<6 {
            let sampled = indices[buffer].map { Double(gradients[buffer][$0]) }
            let error = relativeError(sampled, expected[buffer])
            #expect(error <= 1e-5, "\(bufferNames[buffer]): relative error \(error), long problem \(index)")
        }
    }

    /// The 1e-5 tolerance above is tight enough to see a dropped term: remove one term of a
    /// correct gradient (worked out here in Float64) and the error must exceed it.
    @Test func droppedTermsExceedTheTolerance() throws {
        let problem = problems[1]
        let inputs = problem.randomInputs(seed: 201)
        var generator = SeededGenerator(seed: 301)
        let weights = (0..<problem.rows * problem.channels).map { _ in generator.nextNormal() }
        let zeros = problem.sizes.map { [Float](repeating: 0, count: $0) }
        let gradients = try runBackward(problem, inputs, weights: weights, start: zeros, threads: 1)
            .map { $0.map(Double.init) }
        let expected = finiteDifferences(problem, inputs, weights: weights)
        #expect(relativeError(gradients[0], expected[0]) <= 1e-5)

        let (projection, delta, d, bias) = (inputs[0], inputs[1], inputs[4], inputs[5])
        var withoutSkip = gradients[0], withoutSiluCorrection = gradients[0], withoutSoftplus = gradients[1]
        for row in 0..<problem.rows {
            for e in 0..<problem.channels {
                let uIndex = row * problem.projectionWidth + problem.uOffset + e
                let zIndex = row * problem.projectionWidth + problem.zOffset + e
                let z = Double(projection[zIndex]), sigmoid = 1 / (1 + exp(-z))
                let w = Double(weights[row * problem.channels + e])
                // du without the D·u skip path.
                withoutSkip[uIndex] -= w * z * sigmoid * Double(d[e])
                // dz with silu'(z) taken as σ(z).
                withoutSiluCorrection[zIndex] /= 1 + z * (1 - sigmoid)
                // d(delta) without the softplus derivative.
                let preactivation = Double(delta[row * problem.channels + e] + bias[e])
                withoutSoftplus[row * problem.channels + e] *= 1 + exp(-preactivation)
            }
        }
        #expect(relativeError(withoutSkip, expected[0]) > 1e-3)
        #expect(relativeError(withoutSiluCorrection, expected[0]) > 1e-3)
        #expect(relativeError(withoutSoftplus, expected[1]) > 1e-3)
    }

    @Test func backwardIsBitIdenticalWhenRerun() throws {
        let problem = Problem(batch: 3, length: 13, channels: 130, stateSize: 16, interval: 5)
        let inputs = problem.randomInputs(seed: 400)
        var generator = SeededGenerator(seed: 401)
        let weights = (0..<problem.rows * problem.channels).map { _ in generator.nextNormal() }
        let zeros = problem.sizes.map { [Float](repeating: 0, count: $0) }
        for threads in [2, 3, 4] {
            let first = try runBackward(problem, inputs, weights: weights, start: zeros, threads: threads)
            let second = try runBackward(problem, inputs, weights: weights, start: zeros, threads: threads)
            for buffer in 0..<6 {
                #expect(first[buffer].map(\.bitPattern) == second[buffer].map(\.bitPattern),
                        "\(bufferNames[buffer]) differs between runs on \(threads) threads")
            }
        }
    }

    @Test(arguments: (problems + longProblems).indices)
    func stepByStepMatchesTheForward(_ index: Int) throws {
        let problem = (problems + longProblems)[index]
        let inputs = problem.randomInputs(seed: UInt64(500 + index))
        let full = try runForward(problem, inputs, threads: 2)
        let stepLayout = try SelectiveScanLayout(
            batch: problem.batch, length: 1, channels: problem.channels, stateSize: problem.stateSize,
            checkpointInterval: 1, uRowStride: problem.length * problem.projectionWidth,
            deltaRowStride: problem.length * problem.channels,
            zRowStride: problem.length * problem.projectionWidth,
            bRowStride: problem.length * problem.xWidth, cRowStride: problem.length * problem.xWidth)
        var state = [Float](repeating: 0, count: problem.batch * problem.channels * problem.stateSize)
        var y = [Float](repeating: .nan, count: problem.rows * problem.channels)
        var token = [Float](repeating: .nan, count: problem.batch * problem.channels)
        for t in 0..<problem.length {
            // Token t of every sequence: the rows b·L + t, L rows apart.
            inputs[0].withUnsafeBufferPointer { projection in
                inputs[1].withUnsafeBufferPointer { delta in
                    inputs[2].withUnsafeBufferPointer { x in
                        let projectionRow = projection.baseAddress! + t * problem.projectionWidth
                        let xRow = x.baseAddress! + t * problem.xWidth
                        selectiveScanStep(
                            y: &token, state: &state,
                            u: projectionRow + problem.uOffset, delta: delta.baseAddress! + t * problem.channels,
                            z: projectionRow + problem.zOffset,
                            b: xRow + problem.bOffset, c: xRow + problem.cOffset,
                            a: inputs[3], d: inputs[4], deltaBias: inputs[5], layout: stepLayout, threads: 2)
                    }
                }
            }
            for b in 0..<problem.batch {
                for e in 0..<problem.channels {
                    y[(b * problem.length + t) * problem.channels + e] = token[b * problem.channels + e]
                }
            }
        }
        let error = relativeError(y.map(Double.init), full.y.map(Double.init))
        #expect(error <= 1e-6, "step y error \(error), problem \(index)")
        let stateError = relativeError(state.map(Double.init), full.finalState.map(Double.init))
        #expect(stateError <= 1e-6, "step state error \(stateError), problem \(index)")
    }

    @Test func badLayoutsAreRejected() {
        #expect(throws: TensorError.invalidArgument(
            "SelectiveScanLayout: stateSize must be at least 1 (got 0)")) {
            try SelectiveScanLayout(batch: 1, length: 4, channels: 8, stateSize: 0, checkpointInterval: 2)
        }
        #expect(throws: TensorError.invalidArgument(
            "SelectiveScanLayout: zRowStride 7 is smaller than channels 8")) {
            try SelectiveScanLayout(
                batch: 1, length: 4, channels: 8, stateSize: 4, checkpointInterval: 2, zRowStride: 7)
        }
        #expect(throws: TensorError.invalidArgument(
            "SelectiveScanLayout: checkpointInterval must be at least 1 (got 0)")) {
            try SelectiveScanLayout(batch: 1, length: 4, channels: 8, stateSize: 4, checkpointInterval: 0)
        }
    }

    @Test func scratchGrowsWithTheCheckpointIntervalNotTheLength() throws {
        let short = try SelectiveScanLayout(batch: 1, length: 1024, channels: 64, stateSize: 16, checkpointInterval: 32)
        let long = try SelectiveScanLayout(batch: 1, length: 1024, channels: 64, stateSize: 16, checkpointInterval: 256)
        let shortBytes = selectiveScanBackwardScratchBytes(layout: short, threads: 1)
        let longBytes = selectiveScanBackwardScratchBytes(layout: long, threads: 1)
        // Per thread: (4K + 1)·N + K + 3·8·N + 4·8 vectors of 32 bytes, then 8·K·64 staged floats,
        // E·(N + 2) parameter partials and 2·L·N floats of dB, dC rows.
        #expect(shortBytes == ((4 * 32 + 1) * 16 + 32 + 3 * 8 * 16 + 4 * 8) * 32
            + (8 * 32 * 64 + 64 * 18 + 2 * 1024 * 16) * 4)
        #expect(longBytes - shortBytes == (4 * 16 + 1) * (256 - 32) * 32 + 8 * (256 - 32) * 64 * 4)
    }
}

/// The scan as a Tensor op: column slices in, gradients into the right columns, and memory.
@Suite struct SelectiveScanOpTests {
    /// Float64 scan over (B, L, ·) inputs given as whole tensors with their column offsets.
    static func reference(
        xz: Reference, delta: Reference, parameters: Reference, a: Reference, d: Reference, bias: Reference,
        channels: Int, state: Int, rankOffset: Int
    ) -> Reference {
        let (batch, length) = (xz.shape[0], xz.shape[1])
        let xzWidth = xz.shape[2], parameterWidth = parameters.shape[2]
        var y = [Double](repeating: 0, count: batch * length * channels)
        for b in 0..<batch {
            for e in 0..<channels {
                var h = [Double](repeating: 0, count: state)
                for t in 0..<length {
                    let row = b * length + t
                    let u = xz.values[row * xzWidth + e], z = xz.values[row * xzWidth + channels + e]
                    let x = delta.values[row * channels + e] + bias.values[e]
                    let step = x > 30 ? x : Foundation.log1p(Foundation.exp(x))
                    var output = d.values[e] * u
                    for n in 0..<state {
                        let bn = parameters.values[row * parameterWidth + rankOffset + n]
                        let cn = parameters.values[row * parameterWidth + rankOffset + state + n]
                        h[n] = Foundation.exp(step * a.values[e * state + n]) * h[n] + step * bn * u
                        output += h[n] * cn
                    }
                    y[row * channels + e] = output * z / (1 + Foundation.exp(-z))
                }
            }
        }
        return Reference(shape: [batch, length, channels], values: y)
    }

    @Test(arguments: [(2, 9, 5, 3, 4), (1, 1, 3, 2, 1), (3, 6, 9, 4, 6), (2, 7, 8, 16, 3)])
    func gradientsReachTheRightColumns(batch: Int, length: Int, channels: Int, state: Int, interval: Int) {
        let rank = 2
        let shapes = [[batch, length, 2 * channels], [batch, length, channels], [batch, length, rank + 2 * state],
                      [channels, state], [channels], [channels]]
        let inputs = [
            randomValues(shapes[0], low: -1, high: 1, seed: 1), randomValues(shapes[1], low: -2, high: 1, seed: 2),
            randomValues(shapes[2], low: -1, high: 1, seed: 3), randomValues(shapes[3], low: -2, high: -0.2, seed: 4),
            randomValues(shapes[4], seed: 5), randomValues(shapes[5], low: -1, high: 0.5, seed: 6),
        ]
        checkGradients(inputs, shapes: shapes, forwardTolerance: 1e-5, gradientTolerance: 2e-4) { t in
            selectiveScan(
                u: ColumnSlice(t[0], start: 0, width: channels), delta: ColumnSlice(t[1]), a: t[3],
                b: ColumnSlice(t[2], start: rank, width: state), c: ColumnSlice(t[2], start: rank + state, width: state),
                d: t[4], z: ColumnSlice(t[0], start: channels, width: channels), deltaBias: t[5], checkpointInterval: interval)
        } reference: { r in
            Self.reference(xz: r[0], delta: r[1], parameters: r[2], a: r[3], d: r[4], bias: r[5],
                           channels: channels, state: state, rankOffset: rank)
        }
    }

    /// Peak bytes held while running the scan forward and backward on (B, L, E) with state N.
    static func peakBytes(batch: Int, length: Int, channels: Int, state: Int, interval: Int) -> Int {
        var generator = SeededGenerator(seed: 9)
        let u = Tensor(uniform: [batch, length, channels], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let delta = Tensor(uniform: [batch, length, channels], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let z = Tensor(uniform: [batch, length, channels], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let bc = Tensor(uniform: [batch, length, 2 * state], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let a = Tensor(uniform: [channels, state], low: -2, high: -0.5, generator: &generator, requiresGrad: true)
        let d = Tensor(ones: [channels], requiresGrad: true)
        let bias = Tensor(zeros: [channels], requiresGrad: true)
        let seed = Tensor(ones: [batch, length, channels])
        return AllocationCounter.shared.measurePeak {
            let y = selectiveScan(
                u: ColumnSlice(u), delta: ColumnSlice(delta), a: a, b: ColumnSlice(bc, start: 0, width: state),
                c: ColumnSlice(bc, start: state, width: state), d: d, z: ColumnSlice(z), deltaBias: bias, checkpointInterval: interval)
            y.backward(gradient: seed)
        }.peakBytes
    }

    @Test func memoryDoesNotGrowWithStateTimesLength() {
        let (batch, channels, state, interval) = (2, 64, 64, 64)
        let short = Self.peakBytes(batch: batch, length: 256, channels: channels, state: state, interval: interval)
        let long = Self.peakBytes(batch: batch, length: 1024, channels: channels, state: state, interval: interval)
        // A stored-state scan keeps (B, L, E, N) floats: this many more bytes per extra token.
        let storedStatesPerToken = batch * channels * state * 4
        // Ours grows by the output and the input gradients (B·E and B·2N floats a token each)
        // plus one saved state every K tokens.
        let perToken = Double(long - short) / Double(1024 - 256)
        #expect(perToken < Double(storedStatesPerToken) / 4, "\(perToken) bytes per token; stored states need \(storedStatesPerToken)")
        #expect(perToken > 0)
    }
}
