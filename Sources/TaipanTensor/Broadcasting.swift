// Broadcasting.swift — NumPy broadcasting rules: aligning shapes from the right, and
// iterating an output with the strides (0 on broadcast dimensions) of each input.

/// The shape that `a` and `b` broadcast to, or an error naming `op` and both shapes.
public func broadcastShapes(_ a: [Int], _ b: [Int], op: String) throws(TensorError) -> [Int] {
    let rank = max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let sizeA = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let sizeB = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard sizeA == sizeB || sizeA == 1 || sizeB == 1 else {
            throw .shapeMismatch(
                "\(op): \(describeShape(a)) and \(describeShape(b)) do not broadcast: sizes \(sizeA) and \(sizeB) differ in dimension \(i)")
        }
        result[i] = sizeA == 1 ? sizeB : sizeA
    }
    return result
}

/// Row-major strides of `shape`, aligned to `outputShape` from the right, with 0 on every
/// dimension where `shape` is broadcast.
func broadcastStrides(_ shape: [Int], to outputShape: [Int]) -> [Int] {
    let offset = outputShape.count - shape.count
    var strides = [Int](repeating: 0, count: outputShape.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + offset] = shape[i] == 1 && outputShape[i + offset] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Row-major strides of a contiguous tensor of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = step
        step *= shape[i]
    }
    return strides
}

/// Calls `body(outputOffset, offsetA, offsetB, innerCount)` for every innermost row of an
/// output of `shape`, where the inputs advance by `strideA`/`strideB` (their strides, 0 on
/// broadcast dimensions) and the row by `innerStrideA`/`innerStrideB` per element.
/// Rows `rows` (of the `shape.dropLast()` product) only, so callers can split the work.
@inline(__always)
func forEachBroadcastRow(
    shape: [Int], stridesA: [Int], stridesB: [Int], rows: Range<Int>,
    _ body: (_ offsetOut: Int, _ offsetA: Int, _ offsetB: Int) -> Void
) {
    let rank = shape.count
    let inner = rank == 0 ? 1 : shape[rank - 1]
    for row in rows {
        var remainder = row
        var offsetA = 0, offsetB = 0
        var dim = rank - 2
        while dim >= 0 {
            let index = remainder % shape[dim]
            remainder /= shape[dim]
            offsetA += index * stridesA[dim]
            offsetB += index * stridesB[dim]
            dim -= 1
        }
        body(row * inner, offsetA, offsetB)
    }
}

extension Tensor {
    /// Adds `source` (of an output shape that `self` broadcast to) into this tensor's
    /// gradient, summing over the broadcast dimensions. `sign` is +1 or −1.
    func accumulateGradient(reducing source: Tensor, sign: Float = 1) {
        if source.shape == shape {
            let from = source.pointer
            accumulateGradient { target in
                parallelFor(count, grain: 16384) { range in
                    if sign == 1 {
                        for i in range { target[i] += from[i] }
                    } else {
                        for i in range { target[i] -= from[i] }
                    }
                }
            }
            return
        }
        let outputShape = source.shape
        let strides = broadcastStrides(shape, to: outputShape)
        let inner = outputShape.last ?? 1
        let innerStride = strides.last ?? 0
        let rows = outputShape.isEmpty ? 1 : outputShape.dropLast().reduce(1, *)
        let from = source.pointer
        // Sequential: several output rows land on the same gradient element, and a fixed
        // order keeps the sum bit-identical run to run.
        accumulateGradient { target in
            forEachBroadcastRow(shape: outputShape, stridesA: strides, stridesB: strides, rows: 0..<rows) {
                offsetOut, offsetTarget, _ in
                for j in 0..<inner { target[offsetTarget + j * innerStride] += sign * from[offsetOut + j] }
            }
        }
    }
}
