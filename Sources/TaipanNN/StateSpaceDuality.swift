// StateSpaceDuality.swift — the SSD scan of Mamba-2's mixer as one fused op: the chunked forward,
// its hand-written backward, and the one-token step for generation.
//
// Dao & Gu, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured
// State Space Duality" (2024), §6 and Listing 1 (`ssd_minimal_discrete`), with Δ through softplus
// and clamped, and the D skip, as in mamba_ssm's `mamba_chunk_scan_combined` and Hugging Face's
// `Mamba2Mixer` (`torch_forward`). Per batch item and head h (whose B, C come from group
// g = h / (H/G)), with a scalar A_h already negative (the model passes A = −exp(A_log)):
//   Δ_t = clamp(softplus(dt_t + dtBias_h), lower, upper)
//   h_t = exp(Δ_t·A_h) · h_{t−1} + Δ_t · x_t ⊗ B_t        (P, N)   h_{−1} = 0
//   y_t = h_t · C_t + D_h · x_t                           (P)
// The gate silu(z) is not part of the op: Mamba-2 applies it inside the grouped RMSNorm.
//
// Chunked: the sequence is cut into chunks of K steps (the last may be shorter). With a_t = Δ_t·A
// and s_t the cumulative sum of a within the chunk (S = s at the chunk's last step),
//   inside a chunk:  y_l = Σ_{j≤l} (C_l·B_j) · exp(s_l − s_j) · Δ_j x_j     (the C·Bᵀ ∘ decay mask
//                    product, a (K, K) matrix times the (K, P) inputs)
//   from before it:  y_l += exp(s_l) · h_in · C_l                        (a (K, N)·(N, P) product)
//   passed on:       h_out = exp(S) · h_in + Σ_j exp(S − s_j) · Δ_j x_j ⊗ B_j
// so nearly all the work is sgemm on (K, K), (K, P), (K, N) and (P, N) operands. The forward keeps
// one state per chunk (h after it) for the backward, which walks the chunks in reverse carrying
// dL/dh and recomputes each chunk's masks from its saved entry state: memory O(L/K) states.
//
// Dimensions: B batch, L length, H heads, P head size (head_dim), G groups, N state size,
// K chunk size, Q = ceil(L / K) chunks.
//
// A work item is one batch item and one group: C·Bᵀ is computed once per chunk and shared by the
// group's heads, and the item owns its rows of dB and dC, so no two threads write the same
// gradient. dA, dD and d(dtBias) sum per-item partials in item order: a rerun with the same
// thread count is bit-identical.

import Foundation
import TaipanTensor

/// Sizes, row strides and time-step limits of an SSD scan.
///
/// x is (B, L, H·P), dt (B, L, H), B and C (B, L, G·N), each row-major with its own row stride
/// (the elements between row (b, t) and row (b, t + 1)), so that column slices of the
/// convolution and projection outputs go in without copies. Each gradient has its input's layout.
public struct StateSpaceDualityLayout: Sendable, Equatable {
    /// B: sequences in the batch.
    public let batch: Int
    /// L: tokens per sequence.
    public let length: Int
    /// H: heads.
    public let heads: Int
    /// P: channels per head (head_dim).
    public let headSize: Int
    /// G: groups of heads sharing B and C (n_groups).
    public let groups: Int
    /// N: state size per channel.
    public let stateSize: Int
    /// K: steps per chunk.
    public let chunkSize: Int
    /// The interval Δ is clamped to (transformers' `time_step_limit`).
    public let timeStepLimit: ClosedRange<Float>
    /// Row strides of x (at least H·P), dt (at least H) and B, C (at least G·N), in elements.
    public let xRowStride, dtRowStride, bRowStride, cRowStride: Int

    /// Q: chunks per sequence, ceil(L / K).
    public var chunkCount: Int { (length + chunkSize - 1) / chunkSize }
    /// Heads per group, H / G.
    public var headsPerGroup: Int { heads / groups }
    /// H·P: the width of x and y.
    public var channels: Int { heads * headSize }

    /// A layout; strides left out mean dense rows.
    public init(
        batch: Int, length: Int, heads: Int, headSize: Int, groups: Int, stateSize: Int, chunkSize: Int,
        timeStepLimit: ClosedRange<Float> = 0...Float.infinity,
        xRowStride: Int? = nil, dtRowStride: Int? = nil, bRowStride: Int? = nil, cRowStride: Int? = nil
    ) throws(TensorError) {
        for (name, value) in [
            ("batch", batch), ("length", length), ("heads", heads), ("headSize", headSize),
            ("groups", groups), ("stateSize", stateSize), ("chunkSize", chunkSize),
        ] where value < 1 {
            throw TensorError.invalidArgument("StateSpaceDualityLayout: \(name) must be at least 1 (got \(value))")
        }
        guard heads % groups == 0 else {
            throw TensorError.invalidArgument("StateSpaceDualityLayout: \(heads) heads do not split into \(groups) groups")
        }
        guard !timeStepLimit.lowerBound.isNaN, !timeStepLimit.upperBound.isNaN else {
            throw TensorError.invalidArgument("StateSpaceDualityLayout: the time-step limit is NaN")
        }
        let strides = [
            ("xRowStride", xRowStride ?? heads * headSize, heads * headSize),
            ("dtRowStride", dtRowStride ?? heads, heads),
            ("bRowStride", bRowStride ?? groups * stateSize, groups * stateSize),
            ("cRowStride", cRowStride ?? groups * stateSize, groups * stateSize),
        ]
        for (name, stride, width) in strides where stride < width {
            throw TensorError.invalidArgument("StateSpaceDualityLayout: \(name) \(stride) is smaller than the row width \(width)")
        }
        self.batch = batch
        self.length = length
        self.heads = heads
        self.headSize = headSize
        self.groups = groups
        self.stateSize = stateSize
        self.chunkSize = chunkSize
        self.timeStepLimit = timeStepLimit
        self.xRowStride = strides[0].1
        self.dtRowStride = strides[1].1
        self.bRowStride = strides[2].1
        self.cRowStride = strides[3].1
    }

    /// Floats of one head's state, P·N.
    var headStateSize: Int { headSize * stateSize }
}

/// Runs the scan over whole sequences from a zero state and writes y and, when asked, the
/// state after every chunk (the backward's restart points) and after the last token.
public func stateSpaceDualityForward(
    y: UnsafeMutablePointer<Float>,                 // (B, L, H·P) dense
    chunkStates: UnsafeMutablePointer<Float>?,      // (B, Q, H, P, N) h after steps K−1, 2K−1, …, L−1
    finalState: UnsafeMutablePointer<Float>?,       // (B, H, P, N) h after step L−1
    x: UnsafePointer<Float>,                        // (B, L, H·P) rows of xRowStride
    dt: UnsafePointer<Float>,                       // (B, L, H) rows of dtRowStride, before bias and softplus
    b: UnsafePointer<Float>,                        // (B, L, G·N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, L, G·N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (H) negative
    d: UnsafePointer<Float>,                        // (H)
    dtBias: UnsafePointer<Float>,                   // (H)
    layout: StateSpaceDualityLayout,
    threads: Int = Threads.count
) {
    let plan = ChunkScratch(layout: layout, backward: false)
    let (length, headSize, stateSize) = (layout.length, layout.headSize, layout.stateSize)
    let (chunk, chunkCount, perGroup) = (layout.chunkSize, layout.chunkCount, layout.headsPerGroup)
    let yStride = layout.channels, headState = layout.headStateSize
    let items = layout.batch * layout.groups
    forEachItem(items, threads: threads) { range in
            let scratch = plan.allocate()
            defer { scratch.deallocate() }
            let gram = scratch.gram, weights = scratch.weights, inputs = scratch.inputs
            let product = scratch.product, states = scratch.states
            for item in range {
                let batchIndex = item / layout.groups, group = item % layout.groups
                states.update(repeating: 0, count: perGroup * headState)
                for q in 0..<chunkCount {
                    let start = q * chunk, count = min(chunk, length - start)
                    let firstRow = batchIndex * length + start
                    let bRows = b + firstRow * layout.bRowStride + group * stateSize
                    let cRows = c + firstRow * layout.cRowStride + group * stateSize
                    // (K, K) C·Bᵀ, shared by the group's heads.
                    sgemm(transposeA: false, transposeB: true, m: count, n: count, k: stateSize,
                          a: cRows, lda: layout.cRowStride, b: bRows, ldb: layout.bRowStride, c: gram, ldc: chunk)
                    for j in 0..<perGroup {
                        let head = group * perGroup + j
                        let state = states + j * headState
                        let xRows = x + firstRow * layout.xRowStride + head * headSize
                        let yRows = y + firstRow * yStride + head * headSize
                        prepareChunk(scratch, xRows: xRows, dtRows: dt + firstRow * layout.dtRowStride + head,
                                     a: a[head], dtBias: dtBias[head], count: count, layout: layout)
                        maskedDecays(weights, gram: gram, cumulative: scratch.cumulative, count: count, ldw: chunk)
                        // Inside the chunk: y = (C·Bᵀ ∘ decay) · (Δ·x).
                        sgemm(transposeA: false, transposeB: false, m: count, n: headSize, k: count,
                              a: weights, lda: chunk, b: inputs, ldb: headSize, c: yRows, ldc: yStride)
                        let skip = d[head]
                        if q > 0 {
                            // From the chunk's entry state: y_l += exp(s_l) · h_in · C_l.
                            sgemm(transposeA: false, transposeB: true, m: count, n: headSize, k: stateSize,
                                  a: cRows, lda: layout.cRowStride, b: state, ldb: stateSize, c: product, ldc: headSize)
                            for t in 0..<count {
                                let scale = Foundation.exp(scratch.cumulative[t])
                                for p in 0..<headSize { yRows[t * yStride + p] += scale * product[t * headSize + p] }
                            }
                        }
                        for t in 0..<count {
                            for p in 0..<headSize { yRows[t * yStride + p] += skip * xRows[t * layout.xRowStride + p] }
                        }
                        // h_out = exp(S)·h_in + Σ_j exp(S − s_j)·Δ_j x_j ⊗ B_j.
                        let total = scratch.cumulative[count - 1]
                        let carry = Foundation.exp(total)
                        for i in 0..<headState { state[i] *= carry }
                        for t in 0..<count {
                            let scale = Foundation.exp(total - scratch.cumulative[t])
                            for p in 0..<headSize { product[t * headSize + p] = scale * inputs[t * headSize + p] }
                        }
                        sgemm(transposeA: true, transposeB: false, m: headSize, n: stateSize, k: count,
                              a: product, lda: headSize, b: bRows, ldb: layout.bRowStride, beta: 1, c: state, ldc: stateSize)
                        if let chunkStates {
                            (chunkStates + ((batchIndex * chunkCount + q) * layout.heads + head) * headState)
                                .update(from: state, count: headState)
                        }
                    }
                }
                if let finalState {
                    (finalState + (batchIndex * layout.heads + group * perGroup) * headState)
                        .update(from: states, count: perGroup * headState)
                }
            }
    }
}

/// Advances the generation state by one token: the same maths as `stateSpaceDualityForward` for a
/// single step, starting from `state` instead of zero and leaving the new state there.
///
/// The layout's rows are the batch items (its length and chunk size are not used): x is (B, H·P),
/// dt (B, H), B and C (B, G·N) with the layout's row strides.
public func stateSpaceDualityStep(
    y: UnsafeMutablePointer<Float>,                 // (B, H·P) dense
    state: UnsafeMutablePointer<Float>,             // (B, H, P, N) h_{t−1} in, h_t out
    x: UnsafePointer<Float>,                        // (B, H·P) rows of xRowStride
    dt: UnsafePointer<Float>,                       // (B, H) rows of dtRowStride, before bias and softplus
    b: UnsafePointer<Float>,                        // (B, G·N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, G·N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (H) negative
    d: UnsafePointer<Float>,                        // (H)
    dtBias: UnsafePointer<Float>,                   // (H)
    layout: StateSpaceDualityLayout,
    team: SpinningTeam? = nil
) {
    let (headSize, stateSize, perGroup) = (layout.headSize, layout.stateSize, layout.headsPerGroup)
    func advanceHeads(_ items: Range<Int>) {
        for item in items {
            let row = item / layout.heads, head = item % layout.heads, group = head / perGroup
            let (step, _) = clampedStep(dt[row * layout.dtRowStride + head] + dtBias[head], limit: layout.timeStepLimit)
            let decay = Foundation.exp(step * a[head]), skip = d[head]
            let bRow = b + row * layout.bRowStride + group * stateSize
            let cRow = c + row * layout.cRowStride + group * stateSize
            let xRow = x + row * layout.xRowStride + head * headSize
            let slot = state + (row * layout.heads + head) * layout.headStateSize
            // Eight state elements at a time (the sum over n in eight lanes, added at the end):
            // a scalar loop stays scalar, because the compiler may not reorder the sum.
            let whole = stateSize / 8 * 8
            let (decays, rawB, rawC) = (SIMD8<Float>(repeating: decay), UnsafeRawPointer(bRow), UnsafeRawPointer(cRow))
            for p in 0..<headSize {
                let input = step * xRow[p], channel = slot + p * stateSize
                let inputs = SIMD8<Float>(repeating: input), rawChannel = UnsafeMutableRawPointer(channel)
                var lanes = SIMD8<Float>()
                for n in stride(from: 0, to: whole, by: 8) {
                    let old = rawChannel.loadUnaligned(fromByteOffset: n * 4, as: SIMD8<Float>.self)
                    let bs = rawB.loadUnaligned(fromByteOffset: n * 4, as: SIMD8<Float>.self)
                    let h = multiplyAdd(decays, old, inputs * bs)
                    rawChannel.storeBytes(of: h, toByteOffset: n * 4, as: SIMD8<Float>.self)
                    lanes = multiplyAdd(h, rawC.loadUnaligned(fromByteOffset: n * 4, as: SIMD8<Float>.self), lanes)
                }
                var output = skip * xRow[p] + lanes.sum()
                for n in whole..<stateSize {
                    let h = decay * channel[n] + input * bRow[n]
                    channel[n] = h
                    output += h * cRow[n]
                }
                y[row * layout.channels + head * headSize + p] = output
            }
        }
    }
    let items = layout.batch * layout.heads
    if let team { team.forEachChunk(count: items) { advanceHeads($0) } } else { advanceHeads(0..<items) }
}

/// Adds the gradients of Σ dy ⊙ y to every input of `stateSpaceDualityForward`, recomputing each
/// chunk from the state saved before it.
///
/// Every gradient buffer is accumulated into (`+=`); dx, dDt, dB, dC have the row strides of x,
/// dt, B, C, so they can be slices of the gradients of the tensors those inputs were sliced from.
public func stateSpaceDualityBackward(
    dx: UnsafeMutablePointer<Float>,                // (B, L, H·P) rows of xRowStride
    dDt: UnsafeMutablePointer<Float>,               // (B, L, H) rows of dtRowStride
    dB: UnsafeMutablePointer<Float>,                // (B, L, G·N) rows of bRowStride
    dC: UnsafeMutablePointer<Float>,                // (B, L, G·N) rows of cRowStride
    dA: UnsafeMutablePointer<Float>,                // (H)
    dD: UnsafeMutablePointer<Float>,                // (H)
    dDtBias: UnsafeMutablePointer<Float>,           // (H)
    dy: UnsafePointer<Float>,                       // (B, L, H·P) dense
    chunkStates: UnsafePointer<Float>,              // (B, Q, H, P, N) from stateSpaceDualityForward
    x: UnsafePointer<Float>,                        // (B, L, H·P) rows of xRowStride
    dt: UnsafePointer<Float>,                       // (B, L, H) rows of dtRowStride
    b: UnsafePointer<Float>,                        // (B, L, G·N) rows of bRowStride
    c: UnsafePointer<Float>,                        // (B, L, G·N) rows of cRowStride
    a: UnsafePointer<Float>,                        // (H)
    d: UnsafePointer<Float>,                        // (H)
    dtBias: UnsafePointer<Float>,                   // (H)
    layout: StateSpaceDualityLayout,
    threads: Int = Threads.count
) {
    let plan = ChunkScratch(layout: layout, backward: true)
    let (length, headSize, stateSize, heads) = (layout.length, layout.headSize, layout.stateSize, layout.heads)
    let (chunk, chunkCount, perGroup) = (layout.chunkSize, layout.chunkCount, layout.headsPerGroup)
    let yStride = layout.channels, headState = layout.headStateSize
    let items = layout.batch * layout.groups
    // (B, 3, H): per batch item dA, dD, d(dtBias), summed over the batch in order at the end.
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: layout.batch * 3 * heads)
    defer { partials.deallocate() }
    partials.update(repeating: 0, count: layout.batch * 3 * heads)
    forEachItem(items, threads: threads) { range in
            let scratch = plan.allocate()
            defer { scratch.deallocate() }
            let gram = scratch.gram, weights = scratch.weights, inputs = scratch.inputs
            let product = scratch.product, states = scratch.states, cumulative = scratch.cumulative
            let decays = scratch.decays, dWeights = scratch.dWeights, dGram = scratch.dGram
            let dInputs = scratch.dInputs, scaled = scratch.scaled, dCumulative = scratch.dCumulative
            for item in range {
                let batchIndex = item / layout.groups, group = item % layout.groups
                let partialDA = partials + batchIndex * 3 * heads
                let partialDD = partialDA + heads, partialDBias = partialDD + heads
                // dL/dh after the current chunk, per head of the group; zero after the last.
                states.update(repeating: 0, count: perGroup * headState)
                for q in stride(from: chunkCount - 1, through: 0, by: -1) {
                    let start = q * chunk, count = min(chunk, length - start)
                    let firstRow = batchIndex * length + start
                    let bRows = b + firstRow * layout.bRowStride + group * stateSize
                    let cRows = c + firstRow * layout.cRowStride + group * stateSize
                    let dBRows = dB + firstRow * layout.bRowStride + group * stateSize
                    let dCRows = dC + firstRow * layout.cRowStride + group * stateSize
                    sgemm(transposeA: false, transposeB: true, m: count, n: count, k: stateSize,
                          a: cRows, lda: layout.cRowStride, b: bRows, ldb: layout.bRowStride, c: gram, ldc: chunk)
                    for i in 0..<count * chunk { dGram[i] = 0 }
                    for j in 0..<perGroup {
                        let head = group * perGroup + j
                        let dState = states + j * headState
                        let entry: UnsafePointer<Float>? = q == 0 ? nil : UnsafePointer(
                            chunkStates + ((batchIndex * chunkCount + q - 1) * heads + head) * headState)
                        let xRows = x + firstRow * layout.xRowStride + head * headSize
                        let dxRows = dx + firstRow * layout.xRowStride + head * headSize
                        let dyRows = dy + firstRow * yStride + head * headSize
                        let dtRows = dt + firstRow * layout.dtRowStride + head
                        prepareChunk(scratch, xRows: xRows, dtRows: dtRows, a: a[head], dtBias: dtBias[head],
                                     count: count, layout: layout)
                        maskedDecays(weights, gram: gram, cumulative: cumulative, count: count, ldw: chunk, decays: decays)
                        let skip = d[head]
                        var dSkip: Float = 0
                        for t in 0..<count {
                            for p in 0..<headSize {
                                let gradient = dyRows[t * yStride + p]
                                dSkip += gradient * xRows[t * layout.xRowStride + p]
                                dxRows[t * layout.xRowStride + p] += skip * gradient
                            }
                            dCumulative[t] = 0
                        }
                        partialDD[head] += dSkip
                        // dW = dy·(Δx)ᵀ and d(Δx) = Wᵀ·dy, W the masked (C·Bᵀ ∘ decay).
                        sgemm(transposeA: false, transposeB: true, m: count, n: count, k: headSize,
                              a: dyRows, lda: yStride, b: inputs, ldb: headSize, c: dWeights, ldc: chunk)
                        sgemm(transposeA: true, transposeB: false, m: count, n: headSize, k: count,
                              a: weights, lda: chunk, b: dyRows, ldb: yStride, c: dInputs, ldc: headSize)
                        for l in 0..<count {
                            for s in 0...l {
                                let index = l * chunk + s
                                let r = dWeights[index] * weights[index]
                                dCumulative[l] += r
                                dCumulative[s] -= r
                                dGram[index] += dWeights[index] * decays[index]
                            }
                        }
                        let total = cumulative[count - 1]
                        var dTotal: Float = 0
                        if q < chunkCount - 1 {
                            // Through h_out = exp(S)·h_in + Σ_j exp(S − s_j)·Δ_j x_j ⊗ B_j.
                            sgemm(transposeA: false, transposeB: true, m: count, n: headSize, k: stateSize,
                                  a: bRows, lda: layout.bRowStride, b: dState, ldb: stateSize, c: product, ldc: headSize)
                            for t in 0..<count {
                                let scale = Foundation.exp(total - cumulative[t])
                                var dot: Float = 0
                                for p in 0..<headSize {
                                    let i = t * headSize + p
                                    dot += inputs[i] * product[i]
                                    dInputs[i] += scale * product[i]
                                    scaled[i] = scale * inputs[i]
                                }
                                dCumulative[t] -= scale * dot
                                dTotal += scale * dot
                            }
                            sgemm(transposeA: false, transposeB: false, m: count, n: stateSize, k: headSize,
                                  a: scaled, lda: headSize, b: dState, ldb: stateSize, beta: 1, c: dBRows, ldc: layout.bRowStride)
                            let carry = Foundation.exp(total)
                            if let entry {
                                var dot: Float = 0
                                for i in 0..<headState { dot += dState[i] * entry[i] }
                                dTotal += carry * dot
                            }
                            for i in 0..<headState { dState[i] *= carry }
                        }
                        if let entry {
                            // Through y_l += exp(s_l)·h_in·C_l.
                            sgemm(transposeA: false, transposeB: true, m: count, n: headSize, k: stateSize,
                                  a: cRows, lda: layout.cRowStride, b: entry, ldb: stateSize, c: product, ldc: headSize)
                            for t in 0..<count {
                                let scale = Foundation.exp(cumulative[t])
                                var dot: Float = 0
                                for p in 0..<headSize {
                                    let i = t * headSize + p
                                    scaled[i] = scale * dyRows[t * yStride + p]
                                    dot += scaled[i] * product[i]
                                }
                                dCumulative[t] += dot
                            }
                            sgemm(transposeA: false, transposeB: false, m: count, n: stateSize, k: headSize,
                                  a: scaled, lda: headSize, b: entry, ldb: stateSize, beta: 1, c: dCRows, ldc: layout.cRowStride)
                            sgemm(transposeA: true, transposeB: false, m: headSize, n: stateSize, k: count,
                                  a: scaled, lda: headSize, b: cRows, ldb: layout.cRowStride, beta: 1, c: dState, ldc: stateSize)
                        }
                        dCumulative[count - 1] += dTotal
                        // s is a running sum of a_t = Δ_t·A: da_t sums ds over t and later.
                        var dDecayRate: Float = 0, dBias: Float = 0, running: Float = 0
                        let rate = a[head]
                        for t in stride(from: count - 1, through: 0, by: -1) {
                            running += dCumulative[t]
                            let step = scratch.steps[t]
                            var dStep = running * rate
                            dDecayRate += running * step
                            for p in 0..<headSize {
                                let i = t * headSize + p
                                dStep += dInputs[i] * xRows[t * layout.xRowStride + p]
                                dxRows[t * layout.xRowStride + p] += step * dInputs[i]
                            }
                            let dPreactivation = dStep * scratch.stepSlopes[t]
                            dBias += dPreactivation
                            dDt[(firstRow + t) * layout.dtRowStride + head] += dPreactivation
                        }
                        partialDA[head] += dDecayRate
                        partialDBias[head] += dBias
                    }
                    // Through C·Bᵀ, summed over the group's heads: dC = dG·B, dB = dGᵀ·C.
                    sgemm(transposeA: false, transposeB: false, m: count, n: stateSize, k: count,
                          a: dGram, lda: chunk, b: bRows, ldb: layout.bRowStride, beta: 1, c: dCRows, ldc: layout.cRowStride)
                    sgemm(transposeA: true, transposeB: false, m: count, n: stateSize, k: count,
                          a: dGram, lda: chunk, b: cRows, ldb: layout.cRowStride, beta: 1, c: dBRows, ldc: layout.bRowStride)
                }
            }
    }
    for head in 0..<heads {
        var sums: (Float, Float, Float) = (0, 0, 0)
        for batchIndex in 0..<layout.batch {
            let row = partials + batchIndex * 3 * heads
            sums.0 += row[head]
            sums.1 += row[heads + head]
            sums.2 += row[2 * heads + head]
        }
        dA[head] += sums.0
        dD[head] += sums.1
        dDtBias[head] += sums.2
    }
}

/// Bytes of scratch one thread of the forward or backward allocates for `layout`.
public func stateSpaceDualityScratchBytes(layout: StateSpaceDualityLayout, threads: Int, backward: Bool) -> Int {
    let plan = ChunkScratch(layout: layout, backward: backward)
    return Swift.min(threads, layout.batch * layout.groups) * plan.floats * MemoryLayout<Float>.stride
}

/// Runs `body` over the work items: split across `threads` threads, each calling OpenBLAS on one
/// thread, when there are enough items to go round; otherwise in one piece with OpenBLAS on all
/// threads (a single sequence of a single group).
private func forEachItem(_ items: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    if items >= threads && threads > 1 {
        Threads.withSingleThreadedBLAS { parallelChunks(count: items, chunks: threads) { _, range in body(range) } }
    } else {
        body(0..<items)
    }
}

/// Δ = clamp(softplus(preactivation), limit) and dΔ/d(preactivation): sigmoid inside the
/// limit, 0 where the clamp holds (as `torch.clamp` passes gradients only inside its bounds).
@inline(__always)
func clampedStep(_ preactivation: Float, limit: ClosedRange<Float>) -> (step: Float, slope: Float) {
    let step = softplus(preactivation)
    if step < limit.lowerBound { return (limit.lowerBound, 0) }
    if step > limit.upperBound { return (limit.upperBound, 0) }
    return (step, sigmoid(preactivation))
}

/// One thread's working buffers for a chunk of one head (K the chunk size).
struct ChunkScratch {
    let layout: StateSpaceDualityLayout
    let backward: Bool

    init(layout: StateSpaceDualityLayout, backward: Bool) {
        self.layout = layout
        self.backward = backward
    }

    /// Floats: (K, K) ×2 and (K, P) ×2 and (K) ×3 and (H/G, P, N) in both directions; the
    /// backward adds (K, K) ×3, (K, P) ×2 and (K).
    var floats: Int {
        let k = layout.chunkSize, p = layout.headSize
        let shared = 2 * k * k + 2 * k * p + 3 * k + layout.headsPerGroup * layout.headStateSize
        return shared + (backward ? 3 * k * k + 2 * k * p + k : 0)
    }

    func allocate() -> Buffers { Buffers(plan: self) }

    /// The buffers, carved from one allocation.
    struct Buffers {
        let base: UnsafeMutablePointer<Float>
        let gram: UnsafeMutablePointer<Float>           // (K, K) C·Bᵀ
        let weights: UnsafeMutablePointer<Float>        // (K, K) C·Bᵀ ∘ exp(s_l − s_j), j ≤ l
        let inputs: UnsafeMutablePointer<Float>         // (K, P) Δ_t·x_t
        let product: UnsafeMutablePointer<Float>        // (K, P) a product's result
        let steps: UnsafeMutablePointer<Float>          // (K) Δ_t
        let stepSlopes: UnsafeMutablePointer<Float>     // (K) dΔ_t/d(dt_t)
        let cumulative: UnsafeMutablePointer<Float>     // (K) s_t
        let states: UnsafeMutablePointer<Float>         // (H/G, P, N) h (forward) or dL/dh (backward)
        let decays: UnsafeMutablePointer<Float>         // (K, K) exp(s_l − s_j), backward only
        let dWeights: UnsafeMutablePointer<Float>       // (K, K)
        let dGram: UnsafeMutablePointer<Float>          // (K, K) summed over the group's heads
        let dInputs: UnsafeMutablePointer<Float>        // (K, P)
        let scaled: UnsafeMutablePointer<Float>         // (K, P) rows of a product scaled per step
        let dCumulative: UnsafeMutablePointer<Float>    // (K)

        init(plan: ChunkScratch) {
            let k = plan.layout.chunkSize, p = plan.layout.headSize
            base = UnsafeMutablePointer<Float>.allocate(capacity: plan.floats)
            base.initialize(repeating: 0, count: plan.floats)
            gram = base
            weights = gram + k * k
            inputs = weights + k * k
            product = inputs + k * p
            steps = product + k * p
            stepSlopes = steps + k
            cumulative = stepSlopes + k
            states = cumulative + k
            let end = states + plan.layout.headsPerGroup * plan.layout.headStateSize
            decays = end
            dWeights = decays + (plan.backward ? k * k : 0)
            dGram = dWeights + (plan.backward ? k * k : 0)
            dInputs = dGram + (plan.backward ? k * k : 0)
            scaled = dInputs + (plan.backward ? k * p : 0)
            dCumulative = scaled + (plan.backward ? k * p : 0)
        }

        func deallocate() { base.deallocate() }
    }
}

/// Fills Δ_t, dΔ_t/d(dt_t), s_t and the inputs Δ_t·x_t of one head's chunk of `count` steps.
@inline(__always)
private func prepareChunk(
    _ scratch: ChunkScratch.Buffers,
    xRows: UnsafePointer<Float>,                    // (count, P) rows of xRowStride
    dtRows: UnsafePointer<Float>,                   // (count) rows of dtRowStride
    a: Float, dtBias: Float, count: Int, layout: StateSpaceDualityLayout
) {
    var running: Float = 0
    for t in 0..<count {
        let (step, slope) = clampedStep(dtRows[t * layout.dtRowStride] + dtBias, limit: layout.timeStepLimit)
        scratch.steps[t] = step
        scratch.stepSlopes[t] = slope
        running += step * a
        scratch.cumulative[t] = running
        let row = xRows + t * layout.xRowStride, inputs = scratch.inputs + t * layout.headSize
        for p in 0..<layout.headSize { inputs[p] = step * row[p] }
    }
}

/// weights[l, j] = gram[l, j] · exp(s_l − s_j) for j ≤ l and 0 above the diagonal; the decays
/// alone go to `decays` when given.
@inline(__always)
private func maskedDecays(
    _ weights: UnsafeMutablePointer<Float>,         // (count, ldw)
    gram: UnsafePointer<Float>,                     // (count, ldw)
    cumulative: UnsafePointer<Float>,               // (count)
    count: Int, ldw: Int,
    decays: UnsafeMutablePointer<Float>? = nil      // (count, ldw)
) {
    for l in 0..<count {
        let row = l * ldw, current = cumulative[l]
        var j = 0
        while j + 8 <= l + 1 {
            let previous = UnsafeRawPointer(cumulative + j).loadUnaligned(as: SIMD8<Float>.self)
            let decay = fastExp(SIMD8(repeating: current) - previous)
            let g = UnsafeRawPointer(gram + row + j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(weights + row + j).storeBytes(of: g * decay, as: SIMD8<Float>.self)
            if let decays { UnsafeMutableRawPointer(decays + row + j).storeBytes(of: decay, as: SIMD8<Float>.self) }
            j += 8
        }
        while j <= l {
            let decay = Foundation.exp(current - cumulative[j])
            weights[row + j] = gram[row + j] * decay
            decays?[row + j] = decay
            j += 1
        }
        for s in (l + 1)..<Swift.max(l + 1, count) { weights[row + s] = 0 }
    }
}

// MARK: - The scan as a Tensor op

/// y = SSD(x, Δ, A, B, C) + D·x per head with Δ = clamp(softplus(dt + dtBias), limit), as one op:
/// x (B, L, H·P), dt (B, L, H), b and c (B, L, G·N) column slices; a, d, dtBias (H). Returns y
/// (B, L, H·P). Only the state after every chunk of `chunkSize` steps is kept for the backward.
/// When `finalState` (B, H, P, N) is given, the state after the last step is written there (the
/// prefill of generation).
public func stateSpaceDuality(
    x: ColumnSlice, dt: ColumnSlice, a: Tensor, b: ColumnSlice, c: ColumnSlice, d: Tensor, dtBias: Tensor,
    headSize: Int, groups: Int, chunkSize: Int, timeStepLimit: ClosedRange<Float> = 0...Float.infinity,
    finalState: Tensor? = nil
) -> Tensor {
    let shape = x.tensor.shape
    precondition(shape.count == 3, "stateSpaceDuality: x must be (B, L, H·P), got \(describeShape(shape))")
    let (batch, length) = (shape[0], shape[1])
    let heads = a.count
    precondition(x.width == heads * headSize, "stateSpaceDuality: x has \(x.width) columns for \(heads) heads of \(headSize)")
    precondition(groups >= 1 && b.width % groups == 0, "stateSpaceDuality: b has \(b.width) columns for \(groups) groups")
    let stateSize = b.width / groups
    for (name, slice, width) in [("dt", dt, heads), ("b", b, groups * stateSize), ("c", c, groups * stateSize)] {
        precondition(
            Array(slice.tensor.shape.prefix(2)) == [batch, length] && slice.width == width,
            "stateSpaceDuality: \(name) \(describeShape(slice.tensor.shape)) (columns \(slice.width)) does not fit x \(describeShape(shape))")
    }
    precondition(a.shape == [heads] && d.shape == [heads] && dtBias.shape == [heads],
                 "stateSpaceDuality: a \(describeShape(a.shape)), d \(describeShape(d.shape)), dtBias \(describeShape(dtBias.shape)) for \(heads) heads")
    if let finalState {
        precondition(finalState.shape == [batch, heads, headSize, stateSize],
                     "stateSpaceDuality: finalState \(describeShape(finalState.shape)) for (B, H, P, N) = (\(batch), \(heads), \(headSize), \(stateSize))")
    }
    let layout: StateSpaceDualityLayout
    do {
        layout = try StateSpaceDualityLayout(
            batch: batch, length: length, heads: heads, headSize: headSize, groups: groups, stateSize: stateSize,
            chunkSize: Swift.max(1, Swift.min(chunkSize, length)), timeStepLimit: timeStepLimit,
            xRowStride: x.rowStride, dtRowStride: dt.rowStride, bRowStride: b.rowStride, cRowStride: c.rowStride)
    } catch { preconditionFailure(error.description) }

    let result = Tensor(uninitialized: [batch, length, heads * headSize])
    let inputs = [x.tensor, dt.tensor, a, b.tensor, c.tensor, d, dtBias]
    let recording = GradientMode.isEnabled && inputs.contains { $0.requiresGrad }
    // (B, Q, H, P, N): the states the backward restarts from; only when a backward may come.
    let chunkStates = recording
        ? Tensor(uninitialized: [batch, layout.chunkCount, heads, headSize, stateSize]) : nil
    let forwardBytes = stateSpaceDualityScratchBytes(layout: layout, threads: Threads.count, backward: false)
    AllocationCounter.shared.allocated(forwardBytes)
    stateSpaceDualityForward(
        y: result.pointer, chunkStates: chunkStates?.pointer, finalState: finalState?.pointer,
        x: x.pointer, dt: dt.pointer, b: b.pointer, c: c.pointer,
        a: a.pointer, d: d.pointer, dtBias: dtBias.pointer, layout: layout)
    AllocationCounter.shared.freed(forwardBytes)
    guard let chunkStates else { return result }

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
        let scratchBytes = stateSpaceDualityScratchBytes(layout: layout, threads: Threads.count, backward: true)
        AllocationCounter.shared.allocated(scratchBytes)
        defer { AllocationCounter.shared.freed(scratchBytes) }
        stateSpaceDualityBackward(
            dx: gradient(x.tensor, offset: x.start), dDt: gradient(dt.tensor, offset: dt.start),
            dB: gradient(b.tensor, offset: b.start), dC: gradient(c.tensor, offset: c.start),
            dA: gradient(a), dD: gradient(d), dDtBias: gradient(dtBias), dy: out.grad!.pointer,
            chunkStates: chunkStates.pointer, x: x.pointer, dt: dt.pointer, b: b.pointer, c: c.pointer,
            a: a.pointer, d: d.pointer, dtBias: dtBias.pointer, layout: layout)
        _ = throwaway
    }
}
