// SelectiveScan.swift — the fused selective scan of Mamba's S6 layer: the forward pass with state
// checkpoints, the backward pass by chunked recomputation, and the one-token step for generation.
//
// Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023), Algorithm 2,
// with Δ through softplus, the D skip and the silu(z) gate as in mamba_ssm's `selective_scan_ref`
// (delta_softplus=True) and Hugging Face's `MambaMixer`:
//   Δ_t = softplus(delta_t + deltaBias)
//   h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t              h_{−1} = 0
//   y_t = (⟨h_t, C_t⟩ + D·u_t) · silu(z_t)          (without the gate when z is nil)
// per batch item and channel, with A already negative (the model passes A = −exp(A_log)).
// The (B, L, E, N) states are never stored: the forward keeps h every K steps and the backward
// recomputes one chunk of K steps at a time from its checkpoint, the paper's recomputation done
// in a CPU's caches instead of a GPU's SRAM.
//
// Dimensions: B batch, L length, E channels (d_inner), N state size (d_state),
// K checkpoint interval, Q = ceil(L / K) checkpoints, G = 8 channel blocks per group.
//
// Vectorised across channels: a SIMD8 lane per channel, so softplus, exp and the gate run on
// eight channels at once while B_t[n] and C_t[n] are broadcasts, and any N works. A work item is
// one batch item and a group of 64 channels (8 blocks of 8; the last padded with zero lanes,
// which stay zero). For each chunk of K steps the item copies its rows of u, delta, z (and dy)
// into dense per-thread staging, so strided rows a page apart are read as whole cache lines,
// then runs the chunk block by block out of L1/L2. Items are numbered batch-major and cut into
// a fixed number of chunks, one per thread; reductions add per-chunk partials in chunk order.

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

    /// Groups of 64 channels, the work items' width; the last may be narrower.
    var channelGroups: Int { (channels + 63) / 64 }

    /// Where channel `channel` of state row `batch` starts in a (·, E, N) buffer of states.
    func stateOffset(batch: Int, channel: Int) -> Int { (batch * channels + channel) * stateSize }
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
    z: UnsafePointer<Float>?,                       // (B, L, E) rows of zRowStride; nil: no gate
    b: UnsafePointer<Float>,                        // (B, L, N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, L, N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (E, N) negative
    d: UnsafePointer<Float>,                        // (E)
    deltaBias: UnsafePointer<Float>,                // (E)
    layout: SelectiveScanLayout,
    threads: Int = Threads.count
) {
    let length = layout.length, channels = layout.channels, stateSize = layout.stateSize
    let interval = layout.checkpointInterval, checkpointCount = layout.checkpointCount
    let groups = layout.channelGroups, steps = min(forwardStagedRows, length)
    let vectors = 2 * blocksPerGroup * stateSize + 2 * blocksPerGroup
    let bytes = vectors * vectorBytes + 4 * steps * channelsPerGroup * floatBytes
    parallelChunks(count: layout.batch * groups, chunks: threads) { _, items in
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { scratch.deallocate() }
        let groupA = scratch.bindMemory(to: SIMD8<Float>.self, capacity: vectors)  // (G, N) lanes: channels
        let state = groupA + blocksPerGroup * stateSize                 // (G, N) h
        let skip = state + blocksPerGroup * stateSize                   // (G) D
        let bias = skip + blocksPerGroup                                // (G) deltaBias
        let staged = (scratch + vectors * vectorBytes)
            .bindMemory(to: Float.self, capacity: 4 * steps * channelsPerGroup)
        let stagedU = staged                                            // (64, 64) rows × channels
        let stagedDelta = stagedU + steps * channelsPerGroup            // (64, 64)
        let stagedZ = stagedDelta + steps * channelsPerGroup            // (64, 64)
        let stagedY = stagedZ + steps * channelsPerGroup                // (64, 64)
        for item in items {
            let batchIndex = item / groups, first = (item % groups) * channelsPerGroup
            let width = min(channelsPerGroup, channels - first), blockCount = (width + 7) / 8
            loadGroupParameters(
                a: groupA, skip: skip, bias: bias, from: (a, d, deltaBias), first: first,
                width: width, stateSize: stateSize)
            state.update(repeating: .zero, count: blockCount * stateSize)
            var start = 0
            while start < length {
                // Up to 64 rows at a time, never across a checkpoint.
                let end = min(start + forwardStagedRows, (start / interval + 1) * interval, length)
                let count = end - start, firstRow = batchIndex * length + start
                let rows = firstRow..<firstRow + count, columns = first..<first + width
                stageIn(stagedU, from: u, rowStride: layout.uRowStride, rows: rows, columns: columns)
                stageIn(stagedDelta, from: delta, rowStride: layout.deltaRowStride, rows: rows, columns: columns)
                if let z { stageIn(stagedZ, from: z, rowStride: layout.zRowStride, rows: rows, columns: columns) }
                stepsInPlace(stagedDelta, sigmoids: nil, bias: bias, rows: count, blocks: blockCount)
                for block in 0..<blockCount {
                    let blockState = state + block * stateSize
                    for j in 0..<count {
                        let offset = j * channelsPerGroup + block * 8
                        let row = firstRow + j
                        let step = loadVector(stagedDelta + offset)
                        let output = advance(
                            next: blockState, previous: blockState, decays: nil,
                            a: groupA + block * stateSize,
                            bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride,
                            step: step, input: loadVector(stagedU + offset), skip: skip[block],
                            stateSize: stateSize)
                        if z == nil {
                            storeVector(output, to: stagedY + offset)
                        } else {
                            let gate = loadVector(stagedZ + offset)
                            storeVector(output * gate * fastSigmoid(gate), to: stagedY + offset)
                        }
                    }
                }
                stageOut(stagedY, to: y, rowStride: channels, rows: rows, columns: columns, adding: false)
                if let checkpoints, end % interval == 0 || end == length {
                    let checkpoint = (end - 1) / interval
                    for block in 0..<blockCount {
                        let slot = checkpoints + layout.stateOffset(
                            batch: batchIndex * checkpointCount + checkpoint, channel: first + block * 8)
                        scatterColumns(
                            state + block * stateSize, to: slot, stateSize: stateSize,
                            lanes: min(8, width - block * 8))
                    }
                }
                start = end
            }
            if let finalState {
                for block in 0..<blockCount {
                    let slot = finalState + layout.stateOffset(batch: batchIndex, channel: first + block * 8)
                    scatterColumns(
                        state + block * stateSize, to: slot, stateSize: stateSize,
                        lanes: min(8, width - block * 8))
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
    z: UnsafePointer<Float>?,                       // (B, E) rows of zRowStride; nil: no gate
    b: UnsafePointer<Float>,                        // (B, N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (E, N) negative
    d: UnsafePointer<Float>,                        // (E)
    deltaBias: UnsafePointer<Float>,                // (E)
    layout: SelectiveScanLayout,
    threads: Int = Threads.count,
    team: SpinningTeam? = nil
) {
    let channels = layout.channels, stateSize = layout.stateSize, blocks = layout.channelBlocks
    func advanceBlocks(_ items: Range<Int>) {
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
                let preactivation = load(delta + row * layout.deltaRowStride + first, lanes: lanes) + bias
                let step = fastSoftplus(preactivation)
                let output = advance(
                    next: blockState, previous: blockState, decays: nil, a: blockA,
                    bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride, step: step,
                    input: load(u + row * layout.uRowStride + first, lanes: lanes),
                    skip: load(d + first, lanes: lanes), stateSize: stateSize)
                if let z {
                    let gate = load(z + row * layout.zRowStride + first, lanes: lanes)
                    store(output * gate * fastSigmoid(gate), to: y + row * channels + first, lanes: lanes)
                } else {
                    store(output, to: y + row * channels + first, lanes: lanes)
                }
                scatterColumns(blockState, to: slot, stateSize: stateSize, lanes: lanes)
            }
        }
    }
    if let team {
        team.forEachChunk(count: layout.batch * blocks) { advanceBlocks($0) }
    } else {
        parallelChunks(count: layout.batch * blocks, chunks: threads) { _, items in advanceBlocks(items) }
    }
}

/// Bytes of scratch `selectiveScanBackward` allocates (once per call) for `layout` on `threads`
/// threads. Per thread: the inputs and gradients of K steps of 64 channels (8·K·64 floats), one
/// chunk's recomputed states and decays and lane-wise dB, dC for 8 channels (about 4·K·N·8
/// floats), and partial sums of dA, dD, d(deltaBias) and of the dB, dC rows the thread touches.
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
    dz: UnsafeMutablePointer<Float>?,               // (B, L, E) rows of zRowStride; nil without a gate
    dB: UnsafeMutablePointer<Float>,                // (B, L, N) rows of bRowStride
    dC: UnsafeMutablePointer<Float>,                // (B, L, N) rows of cRowStride
    dA: UnsafeMutablePointer<Float>,                // (E, N)
    dD: UnsafeMutablePointer<Float>,                // (E)
    dDeltaBias: UnsafeMutablePointer<Float>,        // (E)
    dy: UnsafePointer<Float>,                       // (B, L, E) dense
    checkpoints: UnsafePointer<Float>,              // (B, Q, E, N) from selectiveScanForward
    u: UnsafePointer<Float>,                        // (B, L, E) rows of uRowStride
    delta: UnsafePointer<Float>,                    // (B, L, E) rows of deltaRowStride
    z: UnsafePointer<Float>?,                       // (B, L, E) rows of zRowStride; nil: no gate
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
    let checkpointCount = layout.checkpointCount, groups = layout.channelGroups
    let plan = BackwardScratch(layout: layout, threads: threads)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: plan.totalBytes, alignment: 64)
    defer { scratch.deallocate() }
    #if DEBUG
    // All-ones bytes are NaN floats: a read of scratch that was never written shows in the results.
    scratch.initializeMemory(as: UInt8.self, repeating: 0xFF, count: plan.totalBytes)
    #endif
    // (chunks, 2): the first and last batch row each chunk touched.
    let rowRanges = UnsafeMutablePointer<Int>.allocate(capacity: 2 * plan.chunks)
    defer { rowRanges.deallocate() }

    parallelChunks(count: plan.items, chunks: plan.chunks) { chunk, items in
        let base = scratch + chunk * plan.bytesPerChunk
        let vectors = base.bindMemory(to: SIMD8<Float>.self, capacity: plan.vectorsPerChunk)
        let states = vectors                                            // (K + 1, N) h before, then after each step
        let decays = states + (plan.steps + 1) * stateSize              // (K, N) exp(Δ_t·A)
        let outputs = decays + plan.steps * stateSize                   // (K) ⟨h_t, C_t⟩ + D·u_t
        let dBLanes = outputs + plan.steps                              // (K, N) dB_t before summing lanes
        let dCLanes = dBLanes + plan.steps * stateSize                  // (K, N) dC_t before summing lanes
        let groupA = dCLanes + plan.steps * stateSize                   // (G, N)
        let dState = groupA + blocksPerGroup * stateSize                // (G, N) dL/dh carried back
        let groupDA = dState + blocksPerGroup * stateSize               // (G, N)
        let skip = groupDA + blocksPerGroup * stateSize                 // (G) D
        let bias = skip + blocksPerGroup                                // (G) deltaBias
        let groupDSkip = bias + blocksPerGroup                          // (G)
        let groupDBias = groupDSkip + blocksPerGroup                    // (G)
        let floats = plan.floats(scratch, chunk: chunk)
        let stageSize = plan.steps * channelsPerGroup
        let stagedU = floats                                            // (K, 64)
        let stagedDelta = stagedU + stageSize                           // (K, 64) delta, then Δ
        let stagedSigmoid = stagedDelta + stageSize                     // (K, 64) dΔ/d(delta)
        let stagedZ = stagedSigmoid + stageSize                         // (K, 64)
        let stagedDY = stagedZ + stageSize                              // (K, 64)
        let stagedDU = stagedDY + stageSize                             // (K, 64)
        let stagedDDelta = stagedDU + stageSize                         // (K, 64)
        let stagedDZ = stagedDDelta + stageSize                         // (K, 64)
        let partialDA = stagedDZ + stageSize                            // (E, N)
        let partialDD = partialDA + channels * stateSize                // (E)
        let partialDBias = partialDD + channels                         // (E)
        let partialDB = partialDBias + channels                         // (rows, L, N)
        let partialDC = partialDB + plan.rowsPerChunk * length * stateSize  // (rows, L, N)
        let firstRow = items.lowerBound / groups, lastRow = (items.upperBound - 1) / groups
        rowRanges[2 * chunk] = firstRow
        rowRanges[2 * chunk + 1] = lastRow
        partialDA.update(repeating: 0, count: channels * (stateSize + 2))
        let rowFloats = (lastRow - firstRow + 1) * length * stateSize
        partialDB.update(repeating: 0, count: rowFloats)
        partialDC.update(repeating: 0, count: rowFloats)

        for item in items {
            let batchIndex = item / groups, first = (item % groups) * channelsPerGroup
            let width = min(channelsPerGroup, channels - first), blockCount = (width + 7) / 8
            loadGroupParameters(
                a: groupA, skip: skip, bias: bias, from: (a, d, deltaBias), first: first,
                width: width, stateSize: stateSize)
            dState.update(repeating: .zero, count: blockCount * stateSize)
            groupDA.update(repeating: .zero, count: blockCount * stateSize)
            groupDSkip.update(repeating: .zero, count: 2 * blocksPerGroup)
            let rowDB = partialDB + (batchIndex - firstRow) * length * stateSize  // (L, N)
            let rowDC = partialDC + (batchIndex - firstRow) * length * stateSize  // (L, N)

            for checkpoint in stride(from: checkpointCount - 1, through: 0, by: -1) {
                let start = checkpoint * interval, count = min(interval, length - start)
                let firstRowOfChunk = batchIndex * length + start
                let rows = firstRowOfChunk..<firstRowOfChunk + count, columns = first..<first + width
                stageIn(stagedU, from: u, rowStride: layout.uRowStride, rows: rows, columns: columns)
                stageIn(stagedDelta, from: delta, rowStride: layout.deltaRowStride, rows: rows, columns: columns)
                if let z { stageIn(stagedZ, from: z, rowStride: layout.zRowStride, rows: rows, columns: columns) }
                stageIn(stagedDY, from: dy, rowStride: channels, rows: rows, columns: columns)
                stepsInPlace(stagedDelta, sigmoids: stagedSigmoid, bias: bias, rows: count, blocks: blockCount)
                // dB and dC sum over channels: lane-wise over the group's blocks first, across lanes once.
                dBLanes.update(repeating: .zero, count: count * stateSize)
                dCLanes.update(repeating: .zero, count: count * stateSize)
                for block in 0..<blockCount {
                    let blockA = groupA + block * stateSize, blockDState = dState + block * stateSize
                    let blockDA = groupDA + block * stateSize
                    if checkpoint == 0 {
                        states.update(repeating: .zero, count: stateSize)
                    } else {
                        let slot = checkpoints + layout.stateOffset(
                            batch: batchIndex * checkpointCount + checkpoint - 1, channel: first + block * 8)
                        gatherColumns(states, from: slot, stateSize: stateSize, lanes: min(8, width - block * 8))
                    }
                    for j in 0..<count {
                        let offset = j * channelsPerGroup + block * 8, row = firstRowOfChunk + j
                        let step = loadVector(stagedDelta + offset)
                        outputs[j] = advance(
                            next: states + (j + 1) * stateSize, previous: states + j * stateSize,
                            decays: decays + j * stateSize, a: blockA,
                            bRow: b + row * layout.bRowStride, cRow: c + row * layout.cRowStride,
                            step: step, input: loadVector(stagedU + offset), skip: skip[block],
                            stateSize: stateSize)
                    }
                    var dSkip = groupDSkip[block], dBias = groupDBias[block]
                    for j in stride(from: count - 1, through: 0, by: -1) {
                        let offset = j * channelsPerGroup + block * 8
                        let row = firstRowOfChunk + j
                        let input = loadVector(stagedU + offset)
                        let gradient = loadVector(stagedDY + offset)
                        let step = loadVector(stagedDelta + offset), stepInput = step * input
                        var dOutput = gradient
                        if z != nil {
                            let gate = loadVector(stagedZ + offset), gateSigmoid = fastSigmoid(gate)
                            // silu'(z) = σ(z)·(1 + z·(1 − σ(z)))
                            let dGate = gradient * outputs[j] * gateSigmoid * (1 + gate * (1 - gateSigmoid))
                            storeVector(dGate, to: stagedDZ + offset)
                            dOutput = gradient * gate * gateSigmoid
                        }
                        dSkip += dOutput * input
                        let bRow = b + row * layout.bRowStride, cRow = c + row * layout.cRowStride
                        let current = states + (j + 1) * stateSize, previous = states + j * stateSize
                        let decay = decays + j * stateSize
                        let dBRow = dBLanes + j * stateSize, dCRow = dCLanes + j * stateSize
                        var dStepFromDecay = SIMD8<Float>(), dStateTimesB = SIMD8<Float>()
                        for n in 0..<stateSize {
                            let dh = multiplyAdd(dOutput, SIMD8(repeating: cRow[n]), blockDState[n])
                            dCRow[n] = multiplyAdd(dOutput, current[n], dCRow[n])
                            dBRow[n] = multiplyAdd(dh, stepInput, dBRow[n])
                            dStateTimesB = multiplyAdd(dh, SIMD8(repeating: bRow[n]), dStateTimesB)
                            // d/d(Δ·A) of exp(Δ·A)·h_{t−1}, shared by dA and dΔ.
                            let dExponent = dh * previous[n] * decay[n]
                            blockDA[n] = multiplyAdd(dExponent, step, blockDA[n])
                            dStepFromDecay = multiplyAdd(dExponent, blockA[n], dStepFromDecay)
                            blockDState[n] = dh * decay[n]
                        }
                        let dStep = dStepFromDecay + input * dStateTimesB
                        let dPreactivation = dStep * loadVector(stagedSigmoid + offset)
                        dBias += dPreactivation
                        storeVector(dOutput * skip[block] + step * dStateTimesB, to: stagedDU + offset)
                        storeVector(dPreactivation, to: stagedDDelta + offset)
                    }
                    groupDSkip[block] = dSkip
                    groupDBias[block] = dBias
                }
                for index in 0..<count * stateSize {
                    rowDB[start * stateSize + index] += dBLanes[index].sum()
                    rowDC[start * stateSize + index] += dCLanes[index].sum()
                }
                stageOut(stagedDU, to: du, rowStride: layout.uRowStride, rows: rows, columns: columns, adding: true)
                stageOut(
                    stagedDDelta, to: dDelta, rowStride: layout.deltaRowStride, rows: rows, columns: columns,
                    adding: true)
                if let dz { stageOut(stagedDZ, to: dz, rowStride: layout.zRowStride, rows: rows, columns: columns, adding: true) }
            }
            for block in 0..<blockCount {
                for lane in 0..<min(8, width - block * 8) {
                    let channel = first + block * 8 + lane
                    for n in 0..<stateSize {
                        partialDA[channel * stateSize + n] += groupDA[block * stateSize + n][lane]
                    }
                    partialDD[channel] += groupDSkip[block][lane]
                    partialDBias[channel] += groupDBias[block][lane]
                }
            }
        }
    }

    // Partials are added chunk by chunk in chunk order: the only order, whatever the timing.
    let partialsOffset = 8 * plan.steps * channelsPerGroup
    for index in 0..<channels * (stateSize + 2) {
        var sum: Float = 0
        for chunk in 0..<plan.chunks { sum += plan.floats(scratch, chunk: chunk)[partialsOffset + index] }
        if index < channels * stateSize {
            dA[index] += sum
        } else if index < channels * (stateSize + 1) {
            dD[index - channels * stateSize] += sum
        } else {
            dDeltaBias[index - channels * (stateSize + 1)] += sum
        }
    }
    let rowFloats = length * stateSize
    let dBOffset = partialsOffset + channels * (stateSize + 2)
    let dCOffset = dBOffset + plan.rowsPerChunk * rowFloats
    parallelChunks(count: batchSize, chunks: threads) { _, rows in
        for batchIndex in rows {
            let chunksOfRow = (0..<plan.chunks).filter {
                rowRanges[2 * $0] <= batchIndex && batchIndex <= rowRanges[2 * $0 + 1]
            }
            for t in 0..<length {
                let dBRow = dB + (batchIndex * length + t) * layout.bRowStride
                let dCRow = dC + (batchIndex * length + t) * layout.cRowStride
                for n in 0..<stateSize {
                    var sumB: Float = 0, sumC: Float = 0
                    for chunk in chunksOfRow {
                        let partial = plan.floats(scratch, chunk: chunk)
                            + (batchIndex - rowRanges[2 * chunk]) * rowFloats + t * stateSize + n
                        sumB += partial[dBOffset]
                        sumC += partial[dCOffset]
                    }
                    dBRow[n] += sumB
                    dCRow[n] += sumC
                }
            }
        }
    }
}

/// Channels a work item covers: 8 blocks of 8, so each row of u, delta, z, dy is read as four
/// whole cache lines (one channel block alone would read 32 bytes of each row, a page apart).
private let channelsPerGroup = 64
private let blocksPerGroup = 8
/// Rows the forward stages at a time (the backward stages a whole chunk of K).
private let forwardStagedRows = 64
private let vectorBytes = MemoryLayout<SIMD8<Float>>.stride
private let floatBytes = MemoryLayout<Float>.stride

/// How `selectiveScanBackward` carves its scratch: one equal slice per chunk of work items, SIMD8
/// vectors first, then floats.
struct BackwardScratch {
    /// Work items (batch item, group of 64 channels) and the chunks they are cut into.
    let items: Int, chunks: Int
    /// Steps recomputed at a time: K, or L when K is longer.
    let steps: Int
    /// Batch rows of dB, dC one chunk can touch.
    let rowsPerChunk: Int
    let vectorsPerChunk: Int, floatsPerChunk: Int, bytesPerChunk: Int

    init(layout: SelectiveScanLayout, threads: Int) {
        let groups = layout.channelGroups, stateSize = layout.stateSize
        items = layout.batch * groups
        chunks = max(1, min(threads, items))
        steps = min(layout.checkpointInterval, layout.length)
        // A run of m consecutive items touches at most ⌊(m − 1 + groups − 1) / groups⌋ + 1 rows.
        let longestChunk = (items + chunks - 1) / chunks
        rowsPerChunk = min(layout.batch, (longestChunk + groups - 2) / groups + 1)
        vectorsPerChunk = (4 * steps + 1) * stateSize + steps
            + 3 * blocksPerGroup * stateSize + 4 * blocksPerGroup
        floatsPerChunk = 8 * steps * channelsPerGroup + layout.channels * (stateSize + 2)
            + 2 * rowsPerChunk * layout.length * stateSize
        let bytes = vectorsPerChunk * vectorBytes + floatsPerChunk * floatBytes
        bytesPerChunk = (bytes + 63) / 64 * 64
    }

    var totalBytes: Int { chunks * bytesPerChunk }

    /// The float part of `chunk`'s slice: staged rows, partial dA, dD, d(deltaBias), dB rows, dC rows.
    func floats(_ scratch: UnsafeMutableRawPointer, chunk: Int) -> UnsafeMutablePointer<Float> {
        (scratch + chunk * bytesPerChunk + vectorsPerChunk * vectorBytes)
            .bindMemory(to: Float.self, capacity: floatsPerChunk)
    }
}

/// Gathers A, D and deltaBias of the channels `first..<first + width` into lanes, zero past `width`.
@inline(__always)
private func loadGroupParameters(
    a groupA: UnsafeMutablePointer<SIMD8<Float>>,   // (G, N)
    skip: UnsafeMutablePointer<SIMD8<Float>>,       // (G)
    bias: UnsafeMutablePointer<SIMD8<Float>>,       // (G)
    from parameters: (a: UnsafePointer<Float>, d: UnsafePointer<Float>, deltaBias: UnsafePointer<Float>),
    first: Int, width: Int, stateSize: Int
) {
    for block in 0..<(width + 7) / 8 {
        let channel = first + block * 8, lanes = min(8, width - block * 8)
        gatherColumns(
            groupA + block * stateSize, from: parameters.a + channel * stateSize, stateSize: stateSize,
            lanes: lanes)
        var d = SIMD8<Float>(), deltaBias = SIMD8<Float>()
        for lane in 0..<lanes {
            d[lane] = parameters.d[channel + lane]
            deltaBias[lane] = parameters.deltaBias[channel + lane]
        }
        skip[block] = d
        bias[block] = deltaBias
    }
}

/// Turns staged rows of delta into Δ = softplus(delta + deltaBias) in place and, when asked,
/// writes dΔ/d(delta) = sigmoid(delta + deltaBias) beside them; one tight pass per chunk, so the
/// block loops that follow only load Δ. Never inlined: inlined into the forward's large body it
/// left the softplus as an outlined call on SIMD8 split into halves (forward 11.9 ms against
/// 10.0 on bench-small's shapes, one thread).
@inline(never)
private func stepsInPlace(
    _ staged: UnsafeMutablePointer<Float>,          // (rows, 64) delta in, Δ out
    sigmoids: UnsafeMutablePointer<Float>?,         // (rows, 64)
    bias: UnsafePointer<SIMD8<Float>>,              // (G) deltaBias
    rows: Int, blocks: Int
) {
    for row in 0..<rows {
        for block in 0..<blocks {
            let offset = row * channelsPerGroup + block * 8
            let (step, sigmoid) = fastSoftplusAndSigmoid(loadVector(staged + offset) + bias[block])
            storeVector(step, to: staged + offset)
            if let sigmoids { storeVector(sigmoid, to: sigmoids + offset) }
        }
    }
}

/// Copies `columns` of `rows` of a strided matrix into dense rows of 64, zero past the columns.
@inline(__always)
private func stageIn(
    _ staged: UnsafeMutablePointer<Float>,          // (rows, 64)
    from source: UnsafePointer<Float>,              // (·, ·) rows of rowStride
    rowStride: Int, rows: Range<Int>, columns: Range<Int>
) {
    let width = columns.count
    for (index, row) in rows.enumerated() {
        let destination = staged + index * channelsPerGroup
        let start = source + row * rowStride + columns.lowerBound
        if width == channelsPerGroup {
            // Eight vector copies inline: a call to memmove per 256-byte row cost more than the copy.
            for block in 0..<blocksPerGroup { storeVector(loadVector(start + block * 8), to: destination + block * 8) }
            continue
        }
        destination.update(from: start, count: width)
        if width < channelsPerGroup {
            (destination + width).update(repeating: 0, count: channelsPerGroup - width)
        }
    }
}

/// Writes (or adds) dense rows of 64 back into `columns` of `rows` of a strided matrix.
@inline(__always)
private func stageOut(
    _ staged: UnsafePointer<Float>,                 // (rows, 64)
    to destination: UnsafeMutablePointer<Float>,    // (·, ·) rows of rowStride
    rowStride: Int, rows: Range<Int>, columns: Range<Int>, adding: Bool
) {
    let width = columns.count
    for (index, row) in rows.enumerated() {
        let target = destination + row * rowStride + columns.lowerBound
        let source = staged + index * channelsPerGroup
        if adding {
            for column in 0..<width { target[column] += source[column] }
        } else {
            target.update(from: source, count: width)
        }
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
    // e^(Δ·A) = 2^(Δ·log2(e)·A): fastExp2 costs about half of fastExp.
    let stepLog2E = step * 1.442_695_04
    var output = skip * input
    for n in 0..<stateSize {
        let decay = fastExp2(stepLog2E * a[n])
        decays?[n] = decay
        let h = multiplyAdd(decay, previous[n], stepInput * bRow[n])
        next[n] = h
        output = multiplyAdd(h, SIMD8(repeating: cRow[n]), output)
    }
    return output
}

/// The first `lanes` floats at `pointer`, zero in the lanes past them.
@inline(__always)
private func load(_ pointer: UnsafePointer<Float>, lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return loadVector(pointer) }
    var vector = SIMD8<Float>()
    for lane in 0..<lanes { vector[lane] = pointer[lane] }
    return vector
}

/// Writes the first `lanes` lanes of `vector` to `pointer`.
@inline(__always)
private func store(_ vector: SIMD8<Float>, to pointer: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == 8 { return storeVector(vector, to: pointer) }
    for lane in 0..<lanes { pointer[lane] = vector[lane] }
}

/// The eight floats at `pointer`.
@inline(__always)
private func loadVector(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

/// Writes eight floats to `pointer`.
@inline(__always)
private func storeVector(_ vector: SIMD8<Float>, to pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD8<Float>.self)
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

// MARK: - The scan as a Tensor op

/// Columns `start..<start + width` of every row of a tensor whose last dimension holds more
/// (a slice of a projection's output), passed to the scan without a copy.
public struct ColumnSlice {
    /// The tensor the columns belong to; its gradient receives the columns' gradient.
    public let tensor: Tensor
    /// The first column.
    public let start: Int
    /// The number of columns.
    public let width: Int

    /// Columns `start..<start + width` of `tensor` (all of them by default).
    public init(_ tensor: Tensor, start: Int = 0, width: Int? = nil) {
        let columns = tensor.shape.last ?? 1
        let width = width ?? columns - start
        precondition(start >= 0 && width >= 0 && start + width <= columns,
                     "ColumnSlice: columns \(start)..<\(start + width) outside \(describeShape(tensor.shape))")
        self.tensor = tensor
        self.start = start
        self.width = width
    }

    /// Elements between consecutive rows.
    var rowStride: Int { tensor.shape.last ?? 1 }
    /// The first element of the first row.
    var pointer: UnsafeMutablePointer<Float> { tensor.pointer + start }
}

/// y = (⟨h_t, C_t⟩ + D·u_t) · silu(z_t) (no gate when `z` is nil) with h_t = exp(Δ_t·A)·h_{t−1} + Δ_t·B_t·u_t and
/// Δ = softplus(delta + deltaBias), as one op: u, delta, z (B, L, E); b, c (B, L, N);
/// a (E, N) negative; d, deltaBias (E). Returns y (B, L, E). Only the states every
/// `checkpointInterval` steps are kept for the backward, which recomputes the rest. When
/// `finalState` (B, E, N) is given, the state after the last step is written there (the
/// prefill of generation).
public func selectiveScan(
    u: ColumnSlice, delta: ColumnSlice, a: Tensor, b: ColumnSlice, c: ColumnSlice, d: Tensor,
    z: ColumnSlice?, deltaBias: Tensor, checkpointInterval: Int, finalState: Tensor? = nil
) -> Tensor {
    let shape = u.tensor.shape
    precondition(shape.count == 3, "selectiveScan: u must be (B, L, E), got \(describeShape(shape))")
    let (batch, length, channels) = (shape[0], shape[1], u.width)
    let stateSize = b.width
    for (name, slice, width) in [("delta", delta, channels), ("z", z ?? delta, channels), ("b", b, stateSize), ("c", c, stateSize)] {
        precondition(
            Array(slice.tensor.shape.prefix(2)) == [batch, length] && slice.width == width,
            "selectiveScan: \(name) \(describeShape(slice.tensor.shape)) (columns \(slice.width)) does not fit u \(describeShape(shape))")
    }
    precondition(a.shape == [channels, stateSize] && d.shape == [channels] && deltaBias.shape == [channels],
                 "selectiveScan: a \(describeShape(a.shape)), d \(describeShape(d.shape)), deltaBias \(describeShape(deltaBias.shape)) for \(channels) channels, state \(stateSize)")
    if let finalState {
        precondition(finalState.shape == [batch, channels, stateSize], "selectiveScan: finalState \(describeShape(finalState.shape)) for (B, E, N) = (\(batch), \(channels), \(stateSize))")
    }
    let layout: SelectiveScanLayout
    do {
        layout = try SelectiveScanLayout(
            batch: batch, length: length, channels: channels, stateSize: stateSize,
            checkpointInterval: Swift.max(1, Swift.min(checkpointInterval, length)),
            uRowStride: u.rowStride, deltaRowStride: delta.rowStride, zRowStride: (z ?? delta).rowStride,
            bRowStride: b.rowStride, cRowStride: c.rowStride)
    } catch { preconditionFailure(error.description) }

    let result = Tensor(uninitialized: [batch, length, channels])
    let inputs = [u.tensor, delta.tensor, a, b.tensor, c.tensor, d, deltaBias] + (z.map { [$0.tensor] } ?? [])
    let recording = GradientMode.isEnabled && inputs.contains { $0.requiresGrad }
    // (B, Q, E, N): the states the backward restarts from; only when a backward may come.
    let checkpoints = recording ? Tensor(uninitialized: [batch, layout.checkpointCount, channels, stateSize]) : nil
    selectiveScanForward(
        y: result.pointer, checkpoints: checkpoints?.pointer, finalState: finalState?.pointer,
        u: u.pointer, delta: delta.pointer, z: z?.pointer, b: b.pointer, c: c.pointer,
        a: a.pointer, d: d.pointer, deltaBias: deltaBias.pointer, layout: layout)
    guard let checkpoints else { return result }

    return result.recording(inputs) { out in
        // Inputs that need no gradient still get a buffer to write into: a throwaway one.
        var throwaway: [Tensor] = []
        func gradient(_ tensor: Tensor, offset: Int = 0) -> UnsafeMutablePointer<Float> {
            if tensor.requiresGrad {
                if tensor.grad == nil { tensor.grad = Tensor(zeros: tensor.shape) }
                return tensor.grad!.pointer + offset
            }
            let scratch = Tensor(zeros: tensor.shape)
            throwaway.append(scratch)
            return scratch.pointer + offset
        }
        let scratchBytes = selectiveScanBackwardScratchBytes(layout: layout, threads: Threads.count)
        AllocationCounter.shared.allocated(scratchBytes)
        defer { AllocationCounter.shared.freed(scratchBytes) }
        selectiveScanBackward(
            du: gradient(u.tensor, offset: u.start), dDelta: gradient(delta.tensor, offset: delta.start),
            dz: z.map { gradient($0.tensor, offset: $0.start) }, dB: gradient(b.tensor, offset: b.start),
            dC: gradient(c.tensor, offset: c.start), dA: gradient(a), dD: gradient(d),
            dDeltaBias: gradient(deltaBias), dy: out.grad!.pointer, checkpoints: checkpoints.pointer,
            u: u.pointer, delta: delta.pointer, z: z?.pointer, b: b.pointer, c: c.pointer,
            a: a.pointer, d: d.pointer, deltaBias: deltaBias.pointer, layout: layout)
        _ = throwaway
    }
}
