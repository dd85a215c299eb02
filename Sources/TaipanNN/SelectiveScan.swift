// SelectiveScan.swift — the fused selective scan of Mamba's S6 layer: the forward pass with state
// checkpoints, the backward pass by chunked recomputation, and the one-token step for generation.
//
// Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023), Algorithm 2,
// with Δ through softplus, the D skip and the silu(z) gate as in mamba_ssm's `selective_scan_ref`
// (delta_softplus=True) and Hugging Face's `MambaMixer`:
//   Δ_t = softplus(delta_t + deltaBias)
//   h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t              h_{−1} = 0
//   y_t = (⟨h_t, C_t⟩ + D·u_t) · silu(z_t)
// per batch item and channel, with A already negative (the model passes A = −exp(A_log)).
// The (B, L, E, N) states are never stored: the forward keeps h every K steps and the backward
// recomputes one chunk of K steps at a time from its checkpoint, the paper's recomputation done
// in a CPU's caches instead of a GPU's SRAM.
//
// Dimensions: B batch, L length, E channels (d_inner), N state size (d_state),
// K checkpoint interval, Q = ceil(L / K) checkpoints.
//
// Vectorised across channels: a SIMD8 lane per channel, so softplus, exp and the gate run on
// eight channels at once while B_t[n] and C_t[n] are broadcasts. A work item is one batch item
// and one block of eight channels (the last block padded with zero lanes, which stay zero);
// items are numbered batch-major and cut into a fixed number of chunks, one per thread.

import TaipanTensor

/// Sizes and row strides of a selective scan.
///
/// u, delta and z are (B, L, E) and B, C are (B, L, N), each row-major with its own row stride
/// (the elements between row (b, t) and row (b, t + 1)), so that column slices of a projection
/// output go in without copies. Each gradient the backward writes has its input's layout.
public struct SelectiveScanLayout: Sendable, Equatable {
    /// B: sequences in the batch.
    public let batch: Int
    /// L: tokens per sequence.
    public let length: Int
    /// E: channels (the model's d_inner).
    public let channels: Int
    /// N: state size per channel (the model's d_state).
    public let stateSize: Int
    /// K: steps between saved states; the backward holds K steps of states per thread.
    public let checkpointInterval: Int
    /// Row strides of u, delta, z (at least E) and of B, C (at least N), in elements.
    public let uRowStride, deltaRowStride, zRowStride, bRowStride, cRowStride: Int

    /// Q: the number of saved states per sequence, ceil(L / K).
    public var checkpointCount: Int { (length + checkpointInterval - 1) / checkpointInterval }

    /// A layout; strides left out mean dense rows (E for u, delta, z and N for B, C).
    public init(
        batch: Int, length: Int, channels: Int, stateSize: Int, checkpointInterval: Int,
        uRowStride: Int? = nil, deltaRowStride: Int? = nil, zRowStride: Int? = nil,
        bRowStride: Int? = nil, cRowStride: Int? = nil
    ) throws(TensorError) {
        for (name, value) in [
            ("batch", batch), ("length", length), ("channels", channels),
            ("stateSize", stateSize), ("checkpointInterval", checkpointInterval),
        ] where value < 1 {
            throw TensorError.invalidArgument(
                "SelectiveScanLayout: \(name) must be at least 1 (got \(value))")
        }
        let strides = [
            ("uRowStride", uRowStride ?? channels, channels, "channels"),
            ("deltaRowStride", deltaRowStride ?? channels, channels, "channels"),
            ("zRowStride", zRowStride ?? channels, channels, "channels"),
            ("bRowStride", bRowStride ?? stateSize, stateSize, "stateSize"),
            ("cRowStride", cRowStride ?? stateSize, stateSize, "stateSize"),
        ]
        for (name, stride, width, widthName) in strides where stride < width {
            throw TensorError.invalidArgument(
                "SelectiveScanLayout: \(name) \(stride) is smaller than \(widthName) \(width)")
        }
        self.batch = batch
        self.length = length
        self.channels = channels
        self.stateSize = stateSize
        self.checkpointInterval = checkpointInterval
        self.uRowStride = strides[0].1
        self.deltaRowStride = strides[1].1
        self.zRowStride = strides[2].1
        self.bRowStride = strides[3].1
        self.cRowStride = strides[4].1
    }

    /// Blocks of eight channels; the last may be partly padding.
    var channelBlocks: Int { (channels + 7) / 8 }
}

/// Runs the scan over whole sequences from a zero state and writes the gated output y and,
/// when asked, the states the backward starts from and the state after the last token.
///
/// `checkpoints` holds, for each chunk q of K steps, h after the chunk's last step (the last
/// checkpoint is the final state); `selectiveScanBackward` needs it. Pass nil for both state
/// buffers when only y is wanted.
public func selectiveScanForward(
    y: UnsafeMutablePointer<Float>,                 // (B, L, E) dense
    checkpoints: UnsafeMutablePointer<Float>?,      // (B, Q, E, N) h after steps K−1, 2K−1, …, L−1
    finalState: UnsafeMutablePointer<Float>?,       // (B, E, N) h after step L−1
    u: UnsafePointer<Float>,                        // (B, L, E) rows of uRowStride
    delta: UnsafePointer<Float>,                    // (B, L, E) rows of deltaRowStride, before softplus
    z: UnsafePointer<Float>,                        // (B, L, E) rows of zRowStride
    b: UnsafePointer<Float>,                        // (B, L, N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, L, N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (E, N) negative
    d: UnsafePointer<Float>,                        // (E)
    deltaBias: UnsafePointer<Float>,                // (E)
    layout: SelectiveScanLayout,
    threads: Int = Threads.count
) {
    let batchSize = layout.batch, length = layout.length, channels = layout.channels
    let stateSize = layout.stateSize, interval = layout.checkpointInterval
    let checkpointCount = layout.checkpointCount, blocks = layout.channelBlocks
    parallelChunks(count: batchSize * blocks, chunks: threads) { _, items in
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * stateSize) { buffer in
            guard let state = buffer.baseAddress else { return }
            let blockA = state + stateSize                          // (N) lanes: channels
            for item in items {
                let batchIndex = item / blocks, first = (item % blocks) * 8
                let lanes = min(8, channels - first)
                gatherColumns(blockA, from: a + first * stateSize, stateSize: stateSize, lanes: lanes)
                let skip = load(d + first, lanes: lanes), bias = load(deltaBias + first, lanes: lanes)
                state.update(repeating: .zero, count: stateSize)
                for t in 0..<length {
                    let row = batchIndex * length + t
                    let step = fastSoftplus(load(delta + row * layout.deltaRowStride + first, lanes: lanes) + bias)
                    let input = load(u + row * layout.uRowStride + first, lanes: lanes)
                    let gate = load(z + row * layout.zRowStride + first, lanes: lanes)
                    let output = advance(
                        next: state, previous: state, decays: nil, a: blockA,
                        bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride,
                        step: step, input: input, skip: skip, stateSize: stateSize)
                    store(output * gate * fastSigmoid(gate), to: y + row * channels + first, lanes: lanes)
                    if let checkpoints, (t + 1) % interval == 0 || t == length - 1 {
                        let slot = checkpoints + ((batchIndex * checkpointCount + t / interval) * channels + first) * stateSize
                        scatterColumns(state, to: slot, stateSize: stateSize, lanes: lanes)
                    }
                }
                if let finalState {
                    let slot = finalState + (batchIndex * channels + first) * stateSize
                    scatterColumns(state, to: slot, stateSize: stateSize, lanes: lanes)
                }
            }
        }
    }
}

/// Advances the generation state by one token: the same maths as `selectiveScanForward` for a
/// single step, starting from `state` instead of zero and leaving the new state there.
///
/// The layout's rows are the batch items (its length and checkpoint interval are not used):
/// u, delta, z are (B, E) and B, C are (B, N) with the layout's row strides.
public func selectiveScanStep(
    y: UnsafeMutablePointer<Float>,                 // (B, E) dense
    state: UnsafeMutablePointer<Float>,             // (B, E, N) h_{t−1} in, h_t out
    u: UnsafePointer<Float>,                        // (B, E) rows of uRowStride
    delta: UnsafePointer<Float>,                    // (B, E) rows of deltaRowStride, before softplus
    z: UnsafePointer<Float>,                        // (B, E) rows of zRowStride
    b: UnsafePointer<Float>,                        // (B, N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (E, N) negative
    d: UnsafePointer<Float>,                        // (E)
    deltaBias: UnsafePointer<Float>,                // (E)
    layout: SelectiveScanLayout,
    threads: Int = Threads.count
) {
    let channels = layout.channels, stateSize = layout.stateSize, blocks = layout.channelBlocks
    parallelChunks(count: layout.batch * blocks, chunks: threads) { _, items in
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * stateSize) { buffer in
            guard let blockState = buffer.baseAddress else { return }
            let blockA = blockState + stateSize                     // (N) lanes: channels
            for item in items {
                let row = item / blocks, first = (item % blocks) * 8
                let lanes = min(8, channels - first)
                let slot = state + (row * channels + first) * stateSize
                gatherColumns(blockA, from: a + first * stateSize, stateSize: stateSize, lanes: lanes)
                gatherColumns(blockState, from: slot, stateSize: stateSize, lanes: lanes)
                let bias = load(deltaBias + first, lanes: lanes)
                let step = fastSoftplus(load(delta + row * layout.deltaRowStride + first, lanes: lanes) + bias)
                let gate = load(z + row * layout.zRowStride + first, lanes: lanes)
                let output = advance(
                    next: blockState, previous: blockState, decays: nil, a: blockA,
                    bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride, step: step,
                    input: load(u + row * layout.uRowStride + first, lanes: lanes),
                    skip: load(d + first, lanes: lanes), stateSize: stateSize)
                store(output * gate * fastSigmoid(gate), to: y + row * channels + first, lanes: lanes)
                scatterColumns(blockState, to: slot, stateSize: stateSize, lanes: lanes)
            }
        }
    }
}

/// Bytes of scratch `selectiveScanBackward` allocates (once per call) for `layout` on `threads`
/// threads: per thread, one chunk's recomputed states and decays for one channel block
/// (about 2·K·N·8 floats) and partial sums of dA, dD, d(deltaBias) and of the dB, dC rows
/// the thread touches.
public func selectiveScanBackwardScratchBytes(layout: SelectiveScanLayout, threads: Int) -> Int {
    BackwardScratch(layout: layout, threads: threads).totalBytes
}

/// Adds the gradients of Σ dy ⊙ y to every input of `selectiveScanForward`, recomputing the
/// states chunk by chunk from `checkpoints`.
///
/// Every gradient buffer is accumulated into (`+=`), as an op adds into its inputs' gradients,
/// and du, dDelta, dz, dB, dC have the row strides of u, delta, z, B, C, so they can be slices
/// of the projection-output gradients those inputs were sliced from. dA, dD and dDeltaBias sum
/// over batch and time, dB and dC over channels, each in an order fixed by the sizes and the
/// thread count alone, so a rerun with the same thread count is bit-identical.
public func selectiveScanBackward(
    du: UnsafeMutablePointer<Float>,                // (B, L, E) rows of uRowStride
    dDelta: UnsafeMutablePointer<Float>,            // (B, L, E) rows of deltaRowStride, before softplus
    dz: UnsafeMutablePointer<Float>,                // (B, L, E) rows of zRowStride
    dB: UnsafeMutablePointer<Float>,                // (B, L, N) rows of bRowStride
    dC: UnsafeMutablePointer<Float>,                // (B, L, N) rows of cRowStride
    dA: UnsafeMutablePointer<Float>,                // (E, N)
    dD: UnsafeMutablePointer<Float>,                // (E)
    dDeltaBias: UnsafeMutablePointer<Float>,        // (E)
    dy: UnsafePointer<Float>,                       // (B, L, E) dense
    checkpoints: UnsafePointer<Float>,              // (B, Q, E, N) from selectiveScanForward
    u: UnsafePointer<Float>,                        // (B, L, E) rows of uRowStride
    delta: UnsafePointer<Float>,                    // (B, L, E) rows of deltaRowStride
    z: UnsafePointer<Float>,                        // (B, L, E) rows of zRowStride
    b: UnsafePointer<Float>,                        // (B, L, N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, L, N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (E, N)
    d: UnsafePointer<Float>,                        // (E)
    deltaBias: UnsafePointer<Float>,                // (E)
    layout: SelectiveScanLayout,
    threads: Int = Threads.count
) {
    let batchSize = layout.batch, length = layout.length, channels = layout.channels
    let stateSize = layout.stateSize, interval = layout.checkpointInterval
    let checkpointCount = layout.checkpointCount, blocks = layout.channelBlocks
    let plan = BackwardScratch(layout: layout, threads: threads)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: plan.totalBytes, alignment: 64)
    defer { scratch.deallocate() }
    let firstRows = UnsafeMutablePointer<Int>.allocate(capacity: 2 * plan.chunks)  // (2, chunks)
    defer { firstRows.deallocate() }
    let lastRows = firstRows + plan.chunks

    parallelChunks(count: plan.items, chunks: plan.chunks) { chunk, items in
        let base = scratch + chunk * plan.bytesPerChunk
        let vectors = base.bindMemory(to: SIMD8<Float>.self, capacity: plan.vectorsPerChunk)
        let states = vectors                                            // (K + 1, N) h_{t−1} then h_t…
        let decays = states + (plan.steps + 1) * stateSize              // (K, N) exp(Δ_t·A)
        let steps = decays + plan.steps * stateSize                     // (K) Δ_t
        let outputs = steps + plan.steps                                // (K) ⟨h_t, C_t⟩ + D·u_t
        let dState = outputs + plan.steps                               // (N) dL/dh_t
        let blockA = dState + stateSize                                 // (N)
        let blockDA = blockA + stateSize                                // (N)
        let floats = (base + plan.vectorsPerChunk * MemoryLayout<SIMD8<Float>>.stride)
            .bindMemory(to: Float.self, capacity: plan.floatsPerChunk)
        let partialDA = floats                                          // (E, N)
        let partialDD = partialDA + channels * stateSize                // (E)
        let partialDBias = partialDD + channels                         // (E)
        let partialDB = partialDBias + channels                         // (rows, L, N)
        let partialDC = partialDB + plan.rowsPerChunk * length * stateSize  // (rows, L, N)
        let firstRow = items.lowerBound / blocks, lastRow = (items.upperBound - 1) / blocks
        firstRows[chunk] = firstRow
        lastRows[chunk] = lastRow
        partialDA.update(repeating: 0, count: channels * (stateSize + 2))
        let rowFloats = (lastRow - firstRow + 1) * length * stateSize
        partialDB.update(repeating: 0, count: rowFloats)
        partialDC.update(repeating: 0, count: rowFloats)

        for item in items {
            let batchIndex = item / blocks, first = (item % blocks) * 8
            let lanes = min(8, channels - first)
            gatherColumns(blockA, from: a + first * stateSize, stateSize: stateSize, lanes: lanes)
            let skip = load(d + first, lanes: lanes), bias = load(deltaBias + first, lanes: lanes)
            dState.update(repeating: .zero, count: stateSize)
            blockDA.update(repeating: .zero, count: stateSize)
            var dSkip = SIMD8<Float>(), dBias = SIMD8<Float>()
            let rowDB = partialDB + (batchIndex - firstRow) * length * stateSize  // (L, N)
            let rowDC = partialDC + (batchIndex - firstRow) * length * stateSize  // (L, N)

            for checkpoint in stride(from: checkpointCount - 1, through: 0, by: -1) {
                let start = checkpoint * interval, count = min(interval, length - start)
                if checkpoint == 0 {
                    states.update(repeating: .zero, count: stateSize)
                } else {
                    let slot = checkpoints + ((batchIndex * checkpointCount + checkpoint - 1) * channels + first) * stateSize
                    gatherColumns(states, from: slot, stateSize: stateSize, lanes: lanes)
                }
                for j in 0..<count {
                    let row = batchIndex * length + start + j
                    let step = fastSoftplus(load(delta + row * layout.deltaRowStride + first, lanes: lanes) + bias)
                    steps[j] = step
                    outputs[j] = advance(
                        next: states + (j + 1) * stateSize, previous: states + j * stateSize,
                        decays: decays + j * stateSize, a: blockA,
                        bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride, step: step,
                        input: load(u + row * layout.uRowStride + first, lanes: lanes),
                        skip: skip, stateSize: stateSize)
                }
                for j in stride(from: count - 1, through: 0, by: -1) {
                    let t = start + j, row = batchIndex * length + t
                    let input = load(u + row * layout.uRowStride + first, lanes: lanes)
                    let gate = load(z + row * layout.zRowStride + first, lanes: lanes)
                    let gradient = load(dy + row * channels + first, lanes: lanes)
                    let preactivation = load(delta + row * layout.deltaRowStride + first, lanes: lanes) + bias
                    let step = steps[j], stepInput = step * input
                    let gateSigmoid = fastSigmoid(gate)
                    // silu'(z) = σ(z)·(1 + z·(1 − σ(z)))
                    let dGate = gradient * outputs[j] * gateSigmoid * (1 + gate * (1 - gateSigmoid))
                    let dOutput = gradient * gate * gateSigmoid
                    dSkip += dOutput * input
                    let bRow = b + row * layout.bRowStride, cRow = c + row * layout.cRowStride
                    let current = states + (j + 1) * stateSize, previous = states + j * stateSize
                    let decay = decays + j * stateSize
                    let dBRow = rowDB + t * stateSize, dCRow = rowDC + t * stateSize
                    var dStepFromDecay = SIMD8<Float>(), dStateTimesB = SIMD8<Float>()
                    for n in 0..<stateSize {
                        let dh = dState[n] + dOutput * cRow[n]
                        dCRow[n] += (dOutput * current[n]).sum()
                        dBRow[n] += (dh * stepInput).sum()
                        dStateTimesB += dh * bRow[n]
                        // d/d(Δ·A) of exp(Δ·A)·h_{t−1}, shared by dA and dΔ.
                        let dExponent = dh * previous[n] * decay[n]
                        blockDA[n] += dExponent * step
                        dStepFromDecay += dExponent * blockA[n]
                        dState[n] = dh * decay[n]
                    }
                    let dStep = dStepFromDecay + input * dStateTimesB
                    let dPreactivation = dStep * fastSigmoid(preactivation)
                    dBias += dPreactivation
                    accumulate(dOutput * skip + step * dStateTimesB,
                               into: du + row * layout.uRowStride + first, lanes: lanes)
                    accumulate(dPreactivation, into: dDelta + row * layout.deltaRowStride + first, lanes: lanes)
                    accumulate(dGate, into: dz + row * layout.zRowStride + first, lanes: lanes)
                }
            }
            for n in 0..<stateSize {
                for lane in 0..<lanes { partialDA[(first + lane) * stateSize + n] += blockDA[n][lane] }
            }
            for lane in 0..<lanes {
                partialDD[first + lane] += dSkip[lane]
                partialDBias[first + lane] += dBias[lane]
            }
        }
    }

    // Partials are added chunk by chunk in chunk order: the only order, whatever the timing.
    let parameterFloats = channels * (stateSize + 2)
    for index in 0..<parameterFloats {
        var sum: Float = 0
        for chunk in 0..<plan.chunks { sum += plan.floats(scratch, chunk: chunk)[index] }
        if index < channels * stateSize {
            dA[index] += sum
        } else if index < channels * (stateSize + 1) {
            dD[index - channels * stateSize] += sum
        } else {
            dDeltaBias[index - channels * (stateSize + 1)] += sum
        }
    }
    let rowOffset = parameterFloats, rowFloats = length * stateSize
    let dCOffset = rowOffset + plan.rowsPerChunk * rowFloats
    parallelChunks(count: batchSize, chunks: threads) { _, rows in
        for batchIndex in rows {
            let chunksOfRow = (0..<plan.chunks).filter {
                firstRows[$0] <= batchIndex && batchIndex <= lastRows[$0]
            }
            for t in 0..<length {
                let dBRow = dB + (batchIndex * length + t) * layout.bRowStride
                let dCRow = dC + (batchIndex * length + t) * layout.cRowStride
                for n in 0..<stateSize {
                    var sumB: Float = 0, sumC: Float = 0
                    for chunk in chunksOfRow {
                        let partial = plan.floats(scratch, chunk: chunk)
                            + (batchIndex - firstRows[chunk]) * rowFloats + t * stateSize + n
                        sumB += partial[rowOffset]
                        sumC += partial[dCOffset]
                    }
                    dBRow[n] += sumB
                    dCRow[n] += sumC
                }
            }
        }
    }
}

/// How `selectiveScanBackward` carves its scratch: one equal slice per chunk of work items, SIMD8
/// vectors first, then floats.
struct BackwardScratch {
    /// Work items (batch item, channel block) and the chunks they are cut into.
    let items: Int, chunks: Int
    /// Steps recomputed at a time: K, or L when K is longer.
    let steps: Int
    /// Batch rows of dB, dC one chunk can touch.
    let rowsPerChunk: Int
    let vectorsPerChunk: Int, floatsPerChunk: Int, bytesPerChunk: Int

    init(layout: SelectiveScanLayout, threads: Int) {
        let blocks = layout.channelBlocks, stateSize = layout.stateSize
        items = layout.batch * blocks
        chunks = max(1, min(threads, items))
        steps = min(layout.checkpointInterval, layout.length)
        // A run of m consecutive items touches at most ⌊(m − 1 + blocks − 1) / blocks⌋ + 1 rows.
        let longestChunk = (items + chunks - 1) / chunks
        rowsPerChunk = min(layout.batch, (longestChunk + blocks - 2) / blocks + 1)
        vectorsPerChunk = (2 * steps + 4) * stateSize + 2 * steps
        floatsPerChunk = layout.channels * (stateSize + 2) + 2 * rowsPerChunk * layout.length * stateSize
        let bytes = vectorsPerChunk * MemoryLayout<SIMD8<Float>>.stride + floatsPerChunk * MemoryLayout<Float>.stride
        bytesPerChunk = (bytes + 63) / 64 * 64
    }

    var totalBytes: Int { chunks * bytesPerChunk }

    /// The float part of `chunk`'s slice: partial dA, dD, d(deltaBias), then dB rows, dC rows.
    func floats(_ scratch: UnsafeMutableRawPointer, chunk: Int) -> UnsafeMutablePointer<Float> {
        (scratch + chunk * bytesPerChunk + vectorsPerChunk * MemoryLayout<SIMD8<Float>>.stride)
            .assumingMemoryBound(to: Float.self)
    }
}

/// Advances one channel block's state by one step and returns ⟨h_t, C_t⟩ + D·u_t, the output
/// before the gate; saves exp(Δ_t·A) in `decays` when given.
@inline(__always)
private func advance(
    next: UnsafeMutablePointer<SIMD8<Float>>,       // (N) h_t
    previous: UnsafePointer<SIMD8<Float>>,          // (N) h_{t−1}; may be `next`
    decays: UnsafeMutablePointer<SIMD8<Float>>?,    // (N) exp(Δ_t·A)
    a: UnsafePointer<SIMD8<Float>>,                 // (N)
    bRow: UnsafePointer<Float>,                     // (N) B_t
    cRow: UnsafePointer<Float>,                     // (N) C_t
    step: SIMD8<Float>, input: SIMD8<Float>, skip: SIMD8<Float>,
    stateSize: Int
) -> SIMD8<Float> {
    let stepInput = step * input
    var output = skip * input
    for n in 0..<stateSize {
        let decay = fastExp(step * a[n])
        decays?[n] = decay
        let h = decay * previous[n] + stepInput * bRow[n]
        next[n] = h
        output += h * cRow[n]
    }
    return output
}

/// The first `lanes` floats at `pointer`, zero in the lanes past them.
@inline(__always)
private func load(_ pointer: UnsafePointer<Float>, lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self) }
    var vector = SIMD8<Float>()
    for lane in 0..<lanes { vector[lane] = pointer[lane] }
    return vector
}

/// Writes the first `lanes` lanes of `vector` to `pointer`.
@inline(__always)
private func store(_ vector: SIMD8<Float>, to pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == 8 {
        UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD8<Float>.self)
        return
    }
    for lane in 0..<lanes { pointer[lane] = vector[lane] }
}

/// Adds the first `lanes` lanes of `vector` into `pointer`.
@inline(__always)
private func accumulate(_ vector: SIMD8<Float>, into pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    store(load(pointer, lanes: lanes) + vector, to: pointer, lanes: lanes)
}

/// Transposes `lanes` rows of an (·, N) matrix into N vectors, one lane per row.
@inline(__always)
private func gatherColumns(
    _ columns: UnsafeMutablePointer<SIMD8<Float>>,  // (N) lanes: rows
    from rows: UnsafePointer<Float>,                // (lanes, N)
    stateSize: Int, lanes: Int
) {
    for n in 0..<stateSize {
        var vector = SIMD8<Float>()
        for lane in 0..<lanes { vector[lane] = rows[lane * stateSize + n] }
        columns[n] = vector
    }
}

/// Writes N vectors back as `lanes` rows of an (·, N) matrix, the inverse of `gatherColumns`.
@inline(__always)
private func scatterColumns(
    _ columns: UnsafePointer<SIMD8<Float>>,         // (N) lanes: rows
    to rows: UnsafeMutablePointer<Float>,           // (lanes, N)
    stateSize: Int, lanes: Int
) {
    for n in 0..<stateSize {
        for lane in 0..<lanes { rows[lane * stateSize + n] = columns[n][lane] }
    }
}
