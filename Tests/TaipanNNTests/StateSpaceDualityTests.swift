import Foundation
import Testing
@testable import TaipanNN
import TaipanTensor
import TaipanTestSupport

/// One SSD problem laid out the way Mamba-2 lays it out: x, B and C are column slices of one
/// convolution output (B·L, H·P + 2·G·N + 3) and dt a column slice of a (B·L, H + 2) projection,
/// with padding columns around them that no kernel may touch.
private struct Problem {
    let batch: Int, length: Int, heads: Int, headSize: Int, groups: Int, stateSize: Int, chunk: Int
    var limit: ClosedRange<Float> = 0...Float.infinity

    var channels: Int { heads * headSize }
    var width: Int { channels + 2 * groups * stateSize + 3 }
    var xOffset: Int { 1 }
    var bOffset: Int { channels + 2 }
    var cOffset: Int { channels + groups * stateSize + 3 }
    var dtWidth: Int { heads + 2 }
    var dtOffset: Int { 1 }
    var rows: Int { batch * length }

    /// Buffer sizes, in the order of the inputs: xBC, dt, A, D, dtBias.
    var sizes: [Int] { [rows * width, rows * dtWidth, heads, heads, heads] }

    func layout() throws -> StateSpaceDualityLayout {
        try StateSpaceDualityLayout(
            batch: batch, length: length, heads: heads, headSize: headSize, groups: groups, stateSize: stateSize,
            chunkSize: chunk, timeStepLimit: limit, xRowStride: width, dtRowStride: dtWidth, bRowStride: width,
            cRowStride: width)
    }

    /// Random inputs in the ranges a trained Mamba-2 sees: A in [−4, −0.5], Δ around softplus(−1).
    func randomInputs(seed: UInt64) -> [[Float]] {
        var generator = SeededGenerator(seed: seed)
        let xBC = (0..<sizes[0]).map { _ in generator.nextNormal() }
        let dt = (0..<sizes[1]).map { _ in 0.5 * generator.nextNormal() }
        let a = (0..<sizes[2]).map { _ in -0.5 - 3.5 * generator.nextUniform() }
        let d = (0..<sizes[3]).map { _ in generator.nextNormal() }
        let bias = (0..<sizes[4]).map { _ in -2 + 2.5 * generator.nextUniform() }
        return [xBC, dt, a, d, bias]
    }

    /// The naive Float64 recurrence, step by step: y (B, L, H·P) and every state (B, L, H, P, N).
    func reference(_ inputs: [[Double]]) -> (y: [Double], states: [Double]) {
        let (xBC, dt, a, d, bias) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])
        let headState = headSize * stateSize
        var y = [Double](repeating: 0, count: rows * channels)
        var states = [Double](repeating: 0, count: rows * heads * headState)
        for b in 0..<batch {
            for h in 0..<heads {
                let g = h / (heads / groups)
                var state = [Double](repeating: 0, count: headState)
                for t in 0..<length {
                    let row = b * length + t
                    let preactivation = dt[row * dtWidth + dtOffset + h] + bias[h]
                    let softplus = preactivation > 30 ? preactivation : log1p(exp(preactivation))
                    let step = min(max(softplus, Double(limit.lowerBound)), Double(limit.upperBound))
                    let decay = exp(step * a[h])
                    for p in 0..<headSize {
                        let x = xBC[row * width + xOffset + h * headSize + p]
                        var output = d[h] * x
                        for n in 0..<stateSize {
                            let i = p * stateSize + n
                            state[i] = decay * state[i] + step * x * xBC[row * width + bOffset + g * stateSize + n]
                            output += state[i] * xBC[row * width + cOffset + g * stateSize + n]
                        }
                        y[row * channels + h * headSize + p] = output
                    }
                    for i in 0..<headState { states[(row * heads + h) * headState + i] = state[i] }
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

/// Runs the forward kernel; returns y (B, L, H·P), the chunk states (B, Q, H, P, N), the final state.
private func runForward(_ problem: Problem, _ inputs: [[Float]], threads: Int) throws
    -> (y: [Float], chunkStates: [Float], finalState: [Float])
{
    let layout = try problem.layout()
    let headStates = problem.heads * problem.headSize * problem.stateSize
    let outputs = [
        [Float](repeating: .nan, count: problem.rows * problem.channels),
        [Float](repeating: .nan, count: problem.batch * layout.chunkCount * headStates),
        [Float](repeating: .nan, count: problem.batch * headStates),
    ]
    let results = withBuffers(outputs + inputs) { buffers in
        let (xBC, dt) = (buffers[3], buffers[4])
        stateSpaceDualityForward(
            y: buffers[0], chunkStates: buffers[1], finalState: buffers[2],
            x: xBC + problem.xOffset, dt: dt + problem.dtOffset, b: xBC + problem.bOffset, c: xBC + problem.cOffset,
            a: buffers[5], d: buffers[6], dtBias: buffers[7], layout: layout, threads: threads)
    }
    return (results[0], results[1], results[2])
}

/// Runs forward then backward with dy = `weights`, into gradient buffers that start at `start`.
private func runBackward(
    _ problem: Problem, _ inputs: [[Float]], weights: [Float], start: [[Float]], threads: Int
) throws -> [[Float]] {
    let layout = try problem.layout()
    let chunkStates = try runForward(problem, inputs, threads: threads).chunkStates
    let results = withBuffers(start + inputs + [weights, chunkStates]) { buffers in
        let (dXBC, dDt, xBC, dt) = (buffers[0], buffers[1], buffers[5], buffers[6])
        stateSpaceDualityBackward(
            dx: dXBC + problem.xOffset, dDt: dDt + problem.dtOffset,
            dB: dXBC + problem.bOffset, dC: dXBC + problem.cOffset,
            dA: buffers[2], dD: buffers[3], dDtBias: buffers[4], dy: buffers[10], chunkStates: buffers[11],
            x: xBC + problem.xOffset, dt: dt + problem.dtOffset, b: xBC + problem.bOffset, c: xBC + problem.cOffset,
            a: buffers[7], d: buffers[8], dtBias: buffers[9], layout: layout, threads: threads)
    }
    return Array(results[0..<5])
}

/// Central differences in Float64 of Σ weights ⊙ y with respect to every element of every input.
private func finiteDifferences(_ problem: Problem, _ inputs: [[Float]], weights: [Float]) -> [[Double]] {
    var point = inputs.map { $0.map(Double.init) }
    let weights = weights.map(Double.init)
    func objective(_ point: [[Double]]) -> Double {
        zip(problem.reference(point).y, weights).reduce(0) { $0 + $1.0 * $1.1 }
    }
    let epsilon = 1e-5
    return (0..<point.count).map { buffer in
        (0..<point[buffer].count).map { index in
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

/// max |value − reference| / max |reference|, infinite when any value is NaN.
private func relativeError(_ values: [Double], _ reference: [Double]) -> Double {
    let difference = zip(values, reference).reduce(0) { worst, pair in
        let difference = abs(pair.0 - pair.1)
        return difference.isNaN ? .infinity : Swift.max(worst, difference)
    }
    return difference / max(reference.map(abs).max() ?? 0, 1e-12)
}

private let bufferNames = ["conv output (x, B, C)", "dt", "A", "D", "dtBias"]

/// B, L, H, P, G, N, K: all sizes 1; K not dividing L with 1, 2 and 3 groups; K = L; K > L; a
/// chunk of 1; odd head and state sizes; and a time-step limit that clamps some steps.
private let problems = [
    Problem(batch: 1, length: 1, heads: 1, headSize: 1, groups: 1, stateSize: 1, chunk: 1),
    Problem(batch: 2, length: 9, heads: 4, headSize: 3, groups: 2, stateSize: 5, chunk: 4),
    Problem(batch: 2, length: 7, heads: 3, headSize: 2, groups: 1, stateSize: 3, chunk: 3),
    Problem(batch: 1, length: 10, heads: 6, headSize: 2, groups: 3, stateSize: 4, chunk: 10),
    Problem(batch: 2, length: 5, heads: 2, headSize: 5, groups: 1, stateSize: 2, chunk: 16),
    Problem(batch: 1, length: 6, heads: 2, headSize: 3, groups: 2, stateSize: 3, chunk: 1),
    Problem(batch: 3, length: 11, heads: 2, headSize: 9, groups: 1, stateSize: 11, chunk: 4, limit: 0.2...0.9),
]

@Suite struct StateSpaceDualityTests {
    @Test(arguments: problems.indices)
    func forwardMatchesTheRecurrence(_ index: Int) throws {
        let problem = problems[index]
        let inputs = problem.randomInputs(seed: UInt64(100 + index))
        let reference = problem.reference(inputs.map { $0.map(Double.init) })
        let layout = try problem.layout()
        var first: [Float]?
        for threads in [1, 2, 3] {
            let result = try runForward(problem, inputs, threads: threads)
            let error = relativeError(result.y.map(Double.init), reference.y)
            #expect(error <= 1e-5, "y error \(error), problem \(index)")
            // Chunk state q is h after step min((q + 1)·K, L) − 1; the last is the final state.
            let size = problem.heads * problem.headSize * problem.stateSize
            var saved: [Double] = [], expected: [Double] = []
            for b in 0..<problem.batch {
                for q in 0..<layout.chunkCount {
                    let t = min((q + 1) * problem.chunk, problem.length) - 1
                    for i in 0..<size {
                        saved.append(Double(result.chunkStates[(b * layout.chunkCount + q) * size + i]))
                        expected.append(reference.states[(b * problem.length + t) * size + i])
                    }
                }
                let last = (b * problem.length + problem.length - 1) * size
                saved += result.finalState[b * size..<(b + 1) * size].map(Double.init)
                expected += reference.states[last..<last + size]
            }
            let stateError = relativeError(saved, expected)
            #expect(stateError <= 1e-5, "state error \(stateError), problem \(index)")
            // Each output is computed by one thread in a fixed order: any thread count, same bits.
            if let first { #expect(first == result.y) } else { first = result.y }
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
        let gradients = try runBackward(problem, inputs, weights: weights, start: start, threads: 2)
        let expected = finiteDifferences(problem, inputs, weights: weights)
        for buffer in 0..<5 {
            let added = zip(gradients[buffer], start[buffer]).map { Double($0) - Double($1) }
            let error = relativeError(added, expected[buffer])
            #expect(error <= 1e-4, "\(bufferNames[buffer]): relative error \(error), problem \(index)")
        }
        // Padding columns of the conv output and of dt are left exactly as they were.
        for row in 0..<problem.rows {
            for column in [0, problem.channels + 1, problem.bOffset + problem.groups * problem.stateSize] {
                let i = row * problem.width + column
                #expect(gradients[0][i] == start[0][i])
            }
            for column in [0, problem.dtWidth - 1] {
                #expect(gradients[1][row * problem.dtWidth + column] == start[1][row * problem.dtWidth + column])
            }
        }
        // Bit-identical on a rerun with the same thread count.
        #expect(try runBackward(problem, inputs, weights: weights, start: start, threads: 2) == gradients)
    }

    /// The generation step continues the full forward: running the last token through
    /// `stateSpaceDualityStep` from the state after L − 1 tokens gives the forward's last y and state.
    @Test(arguments: problems.indices)
    func stepContinuesTheForward(_ index: Int) throws {
        let problem = problems[index]
        let inputs = problem.randomInputs(seed: UInt64(400 + index))
        let reference = problem.reference(inputs.map { $0.map(Double.init) })
        let headStates = problem.heads * problem.headSize * problem.stateSize
        let stepLayout = try StateSpaceDualityLayout(
            batch: problem.batch, length: 1, heads: problem.heads, headSize: problem.headSize,
            groups: problem.groups, stateSize: problem.stateSize, chunkSize: 1, timeStepLimit: problem.limit,
            xRowStride: problem.length * problem.width, dtRowStride: problem.length * problem.dtWidth,
            bRowStride: problem.length * problem.width, cRowStride: problem.length * problem.width)
        var state = [Float](repeating: 0, count: problem.batch * headStates)
        var lastY: [Float] = []
        for t in 0..<problem.length {
            let results = withBuffers(
                [[Float](repeating: .nan, count: problem.batch * problem.channels), state] + inputs
            ) { buffers in
                let xBC = buffers[2] + t * problem.width, dt = buffers[3] + t * problem.dtWidth
                stateSpaceDualityStep(
                    y: buffers[0], state: buffers[1], x: xBC + problem.xOffset, dt: dt + problem.dtOffset,
                    b: xBC + problem.bOffset, c: xBC + problem.cOffset, a: buffers[4], d: buffers[5],
                    dtBias: buffers[6], layout: stepLayout)
            }
            lastY = results[0]
            state = results[1]
        }
        var expectedY: [Double] = [], expectedState: [Double] = []
        for b in 0..<problem.batch {
            let row = b * problem.length + problem.length - 1
            expectedY += reference.y[row * problem.channels..<(row + 1) * problem.channels]
            expectedState += reference.states[row * headStates..<(row + 1) * headStates]
        }
        #expect(relativeError(lastY.map(Double.init), expectedY) <= 1e-5)
        #expect(relativeError(state.map(Double.init), expectedState) <= 1e-5)
    }

    /// The Tensor op routes every gradient to the tensors its slices come from.
    @Test func tensorOpMatchesTheKernels() throws {
        let problem = problems[1]
        let inputs = problem.randomInputs(seed: 500)
        let xBC = try Tensor(inputs[0], shape: [problem.batch, problem.length, problem.width], requiresGrad: true)
        let dt = try Tensor(inputs[1], shape: [problem.batch, problem.length, problem.dtWidth], requiresGrad: true)
        let a = try Tensor(inputs[2], shape: [problem.heads], requiresGrad: true)
        let d = try Tensor(inputs[3], shape: [problem.heads], requiresGrad: true)
        let bias = try Tensor(inputs[4], shape: [problem.heads], requiresGrad: true)
        let groupWidth = problem.groups * problem.stateSize
        let y = stateSpaceDuality(
            x: ColumnSlice(xBC, start: problem.xOffset, width: problem.channels),
            dt: ColumnSlice(dt, start: problem.dtOffset, width: problem.heads), a: a,
            b: ColumnSlice(xBC, start: problem.bOffset, width: groupWidth),
            c: ColumnSlice(xBC, start: problem.cOffset, width: groupWidth), d: d, dtBias: bias,
            headSize: problem.headSize, groups: problem.groups, chunkSize: problem.chunk)
        let reference = problem.reference(inputs.map { $0.map(Double.init) })
        #expect(relativeError(y.values.map(Double.init), reference.y) <= 1e-5)
        var generator = SeededGenerator(seed: 501)
        let weights = (0..<y.count).map { _ in generator.nextNormal() }
        y.backward(gradient: try Tensor(weights, shape: y.shape))
        let expected = finiteDifferences(problem, inputs, weights: weights)
        for (buffer, tensor) in [xBC, dt, a, d, bias].enumerated() {
            let error = relativeError((tensor.grad?.values ?? []).map(Double.init), expected[buffer])
            #expect(error <= 1e-4, "\(bufferNames[buffer]): relative error \(error)")
        }
    }

    /// Peak bytes held while running the op forward and backward on (B, L) with H heads of P, state N.
    static func peakBytes(batch: Int, length: Int, heads: Int, headSize: Int, state: Int, chunk: Int) -> Int {
        var generator = SeededGenerator(seed: 9)
        let channels = heads * headSize
        let x = Tensor(uniform: [batch, length, channels + 2 * state], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let dt = Tensor(uniform: [batch, length, heads], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let a = Tensor(uniform: [heads], low: -2, high: -0.5, generator: &generator, requiresGrad: true)
        let d = Tensor(ones: [heads], requiresGrad: true)
        let bias = Tensor(zeros: [heads], requiresGrad: true)
        let seed = Tensor(ones: [batch, length, channels])
        return AllocationCounter.shared.measurePeak {
            let y = stateSpaceDuality(
                x: ColumnSlice(x, start: 0, width: channels), dt: ColumnSlice(dt), a: a,
                b: ColumnSlice(x, start: channels, width: state), c: ColumnSlice(x, start: channels + state, width: state),
                d: d, dtBias: bias, headSize: headSize, groups: 1, chunkSize: chunk)
            y.backward(gradient: seed)
        }.peakBytes
    }

    /// The op keeps one state (H, P, N) per chunk, not per token: its memory grows by the inputs,
    /// outputs and gradients (a few (H·P + 2N)-float rows a token) and one state every K tokens.
    @Test func memoryDoesNotGrowWithStateTimesLength() {
        let (batch, heads, headSize, state, chunk) = (2, 4, 16, 32, 64)
        let short = Self.peakBytes(batch: batch, length: 256, heads: heads, headSize: headSize, state: state, chunk: chunk)
        let long = Self.peakBytes(batch: batch, length: 1024, heads: heads, headSize: headSize, state: state, chunk: chunk)
        // Storing every state would take (B, L, H, P, N) floats: this many more bytes a token.
        let storedStatesPerToken = batch * heads * headSize * state * 4
        let perToken = Double(long - short) / Double(1024 - 256)
        #expect(perToken < Double(storedStatesPerToken) / 4, "\(perToken) bytes per token; stored states need \(storedStatesPerToken)")
        #expect(perToken > 0)
    }
}
