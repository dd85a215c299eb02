// ShapeOps.swift — reshape (shares storage), permute/transpose, slice, concatenate,
// split/chunk and expand. All but reshape write a new contiguous tensor.

extension Tensor {
    /// The same storage seen with another shape of the same element count; one dimension
    /// may be −1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let resolved: [Int]
        do { resolved = try resolveReshape(newShape) } catch { preconditionFailure(error.description) }
        return Tensor(storage: storage, shape: resolved, op: "reshape").recording([self]) { out in
            self.accumulateGradient(out.grad!)
        }
    }

    /// Checks and resolves a reshape target against this tensor's element count.
    public func resolveReshape(_ newShape: [Int]) throws(TensorError) -> [Int] {
        let inferred = newShape.filter { $0 == -1 }.count
        guard inferred <= 1, newShape.allSatisfy({ $0 >= -1 }) else {
            throw .invalidArgument("reshape: \(describeShape(shape)) to \(describeShape(newShape)): at most one −1 and no other negative size")
        }
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        var resolved = newShape
        if inferred == 1 {
            guard known > 0, count % known == 0 else {
                throw .shapeMismatch("reshape: \(describeShape(shape)) (\(count) elements) cannot become \(describeShape(newShape))")
            }
            resolved = newShape.map { $0 == -1 ? count / known : $0 }
        }
        guard resolved.reduce(1, *) == count else {
            throw .shapeMismatch("reshape: \(describeShape(shape)) (\(count) elements) cannot become \(describeShape(newShape))")
        }
        return resolved
    }

    /// The dimensions reordered: result dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(
            order.count == rank && Set(order) == Set(0..<rank),
            "permute: \(order) is not a permutation of the dimensions of \(describeShape(shape))")
        let result = Tensor(zeros: order.map { shape[$0] })
        Tensor.permuteCopy(from: pointer, shape: shape, order: order, to: result.pointer)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, dim) in order.enumerated() { inverse[dim] = i }
        return result.recording([self]) { out in
            let g = out.grad!
            let back = Tensor(zeros: self.shape)
            Tensor.permuteCopy(from: g.pointer, shape: g.shape, order: inverse, to: back.pointer)
            self.accumulateGradient(back)
        }
    }

    /// Dimensions `first` and `second` swapped.
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        let a = normalizedDimension(first, op: "transpose"), b = normalizedDimension(second, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Writes `source` (of `shape`) permuted by `order` into `target`.
    static func permuteCopy(
        from source: UnsafeMutablePointer<Float>, shape: [Int], order: [Int],
        to target: UnsafeMutablePointer<Float>
    ) {
        let sourceStrides = contiguousStrides(shape)
        let outShape = order.map { shape[$0] }
        let strides = order.map { sourceStrides[$0] }
        let total = shape.reduce(1, *)
        let inner = outShape.last ?? 1
        let innerStride = strides.last ?? 1
        let rows = total / Swift.max(inner, 1)
        guard total > 0 else { return }
        parallelFor(rows, grain: Swift.max(1, 4096 / Swift.max(inner, 1))) { range in
            forEachBroadcastRow(shape: outShape, stridesA: strides, stridesB: strides, rows: range) {
                offset, offsetSource, _ in
                for j in 0..<inner { target[offset + j] = source[offsetSource + j * innerStride] }
            }
        }
    }

    /// Elements `range` along `dimension`.
    public func slice(_ dimension: Int, _ range: Range<Int>) -> Tensor {
        let dim = normalizedDimension(dimension, op: "slice")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[dim],
            "slice: range \(range) outside dimension \(dim) of size \(shape[dim]) in \(describeShape(shape))")
        var outShape = shape
        outShape[dim] = range.count
        let result = Tensor(zeros: outShape)
        let outer = shape[..<dim].reduce(1, *), inner = shape[(dim + 1)...].reduce(1, *)
        let source = pointer, target = result.pointer
        let sourceRow = shape[dim] * inner, targetRow = range.count * inner
        for o in 0..<outer {
            (target + o * targetRow).update(from: source + o * sourceRow + range.lowerBound * inner, count: targetRow)
        }
        return result.recording([self]) { out in
            let g = out.grad!.pointer
            self.accumulateGradient { grad in
                for o in 0..<outer {
                    let into = grad + o * sourceRow + range.lowerBound * inner, from = g + o * targetRow
                    for j in 0..<targetRow { into[j] += from[j] }
                }
            }
        }
    }

    /// Joins `tensors` along `dimension`; all other dimensions must agree.
    public static func concatenate(_ tensors: [Tensor], dimension: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let dim = first.normalizedDimension(dimension, op: "concatenate")
        for t in tensors {
            var a = t.shape, b = first.shape
            precondition(a.count == b.count, "concatenate: \(describeShape(first.shape)) and \(describeShape(t.shape)) differ in rank")
            a[dim] = 0; b[dim] = 0
            precondition(a == b, "concatenate: \(describeShape(first.shape)) and \(describeShape(t.shape)) differ outside dimension \(dim)")
        }
        var outShape = first.shape
        outShape[dim] = tensors.map { $0.shape[dim] }.reduce(0, +)
        let result = Tensor(zeros: outShape)
        let outer = first.shape[..<dim].reduce(1, *), inner = first.shape[(dim + 1)...].reduce(1, *)
        let targetRow = outShape[dim] * inner
        var offsets: [Int] = []
        var offset = 0
        for t in tensors {
            offsets.append(offset)
            let row = t.shape[dim] * inner
            for o in 0..<outer { (result.pointer + o * targetRow + offset).update(from: t.pointer + o * row, count: row) }
            offset += row
        }
        return result.recording(tensors) { out in
            let g = out.grad!.pointer
            for (t, start) in zip(tensors, offsets) where t.requiresGrad {
                let row = t.shape[dim] * inner
                t.accumulateGradient { grad in
                    for o in 0..<outer {
                        let from = g + o * targetRow + start, into = grad + o * row
                        for j in 0..<row { into[j] += from[j] }
                    }
                }
            }
        }
    }

    /// Pieces of the given sizes along `dimension`; the sizes must add up to its length.
    public func split(_ sizes: [Int], dimension: Int) -> [Tensor] {
        let dim = normalizedDimension(dimension, op: "split")
        precondition(
            sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[dim],
            "split: sizes \(sizes) do not add up to \(shape[dim]), dimension \(dim) of \(describeShape(shape))")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(dim, start..<(start + size))
        }
    }

    /// `chunks` pieces of equal size along `dimension` (the last one smaller if it must be).
    public func chunked(_ chunks: Int, dimension: Int) -> [Tensor] {
        let dim = normalizedDimension(dimension, op: "chunk")
        precondition(chunks >= 1, "chunk: \(chunks) chunks of \(describeShape(shape))")
        let size = (shape[dim] + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = shape[dim]
        while left > 0 { sizes.append(min(size, left)); left -= size }
        return split(sizes, dimension: dim)
    }

    /// This tensor broadcast to `newShape` (materialised); the gradient sums back.
    public func expanded(to newShape: [Int]) -> Tensor {
        let target: [Int]
        do { target = try broadcastShapes(shape, newShape, op: "expand") } catch { preconditionFailure(error.description) }
        precondition(target == newShape, "expand: \(describeShape(shape)) cannot expand to \(describeShape(newShape))")
        let result = Tensor(zeros: newShape)
        let strides = broadcastStrides(shape, to: newShape)
        let inner = newShape.last ?? 1, innerStride = strides.last ?? 0
        let rows = result.count / Swift.max(inner, 1)
        let source = pointer, out = result.pointer
        if result.count > 0 {
            parallelFor(rows, grain: Swift.max(1, 4096 / Swift.max(inner, 1))) { range in
                forEachBroadcastRow(shape: newShape, stridesA: strides, stridesB: strides, rows: range) {
                    offset, offsetSource, _ in
                    for j in 0..<inner { out[offset + j] = source[offsetSource + j * innerStride] }
                }
            }
        }
        return result.recording([self]) { out in self.accumulateGradient(reducing: out.grad!) }
    }

    /// `dimension` with negative values counted from the end, checked against the rank.
    public func normalizedDimension(_ dimension: Int, op: String) -> Int {
        let dim = dimension < 0 ? dimension + rank : dimension
        precondition(dim >= 0 && dim < rank, "\(op): dimension \(dimension) out of range for \(describeShape(shape))")
        return dim
    }
}
