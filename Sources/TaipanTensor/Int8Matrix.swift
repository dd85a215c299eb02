// Int8Matrix.swift — weight matrices stored as 8-bit integers with one float32 scale per row, for
// memory-bound matrix-vector products (decoding one token at a time), where the time of a
// product is the bytes of weights read: a quarter of float32's, half of bfloat16's.
//
// Quantisation is symmetric and per row ("absmax"): scale = max |w| / 127 over the row, q =
// round(w / scale) in −127…127, and the stored weight is q·scale. Products multiply the integer
// weights by float32 inputs and accumulate in float32; the row's scale is applied once at the
// end. Rows are padded with zero weights to a multiple of 32 columns.

/// A (rows, columns) matrix of int8 weights with a float32 scale per row, read-only once built.
public final class Int8Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    /// Bytes per row: the columns padded to a multiple of 32.
    let rowBytes: Int
    let values: UnsafeMutablePointer<Int8>
    /// (rows) max |w| / 127; a row holding a NaN or an infinity gets a NaN scale (and zero
    /// weights), so that its products are NaN rather than quietly finite.
    let scales: UnsafeMutablePointer<Float>

    /// Quantises `matrix` (rows, columns), a float32 row-major matrix, row by row.
    public init(_ matrix: Tensor) {
        precondition(matrix.rank == 2, "Int8Matrix: needs a matrix, got \(describeShape(matrix.shape))")
        rows = matrix.shape[0]
        columns = matrix.shape[1]
        rowBytes = (columns + 31) / 32 * 32
        values = .allocate(capacity: Swift.max(1, rows * rowBytes))
        values.initialize(repeating: 0, count: Swift.max(1, rows * rowBytes))
        scales = .allocate(capacity: Swift.max(1, rows))
        scales.initialize(repeating: 0, count: Swift.max(1, rows))
        for r in 0..<rows {
            let source = matrix.pointer + r * columns, row = values + r * rowBytes
            var largest: Float = 0, finite = true
            for j in 0..<columns {
                largest = Swift.max(largest, Swift.abs(source[j]))
                finite = finite && source[j].isFinite
            }
            guard finite, largest > 0 else {
                scales[r] = finite ? 0 : .nan
                continue
            }
            let scale = largest / 127
            scales[r] = scale
            for j in 0..<columns {
                let q = (source[j] / scale).rounded(.toNearestOrEven)
                row[j] = Int8(Swift.min(127, Swift.max(-127, q)))
            }
        }
    }

    deinit {
        values.deallocate()
        scales.deallocate()
    }

    /// The bytes the weights and scales take.
    public var byteCount: Int { rows * rowBytes + rows * MemoryLayout<Float>.size }

    /// The stored weight at (row, column), q·scale, as float32.
    public subscript(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Int8Matrix: index out of range")
        return Float(values[row * rowBytes + column]) * scales[row]
    }

    /// y (rows) ← W · x (columns): per row, scale · Σ q·x accumulated in float32. Rows are
    /// spread over `team` (or over `Threads.count` Dispatch threads) when the matrix is large
    /// enough to pay for it; each row is summed in a fixed order by one thread, so the result
    /// does not depend on the thread count.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, team: SpinningTeam? = nil) {
        let (columns, rowBytes) = (self.columns, self.rowBytes)
        let (values, scales) = (UnsafePointer(self.values), UnsafePointer(self.scales))
        forEachRowPiece(rows: rows, columns: columns, team: team) { range in
            for r in range { y[r] = scales[r] * int8Dot(values + r * rowBytes, x, columns: columns) }
        }
    }
}

/// Σ_j q[j] · x[j] over `columns` for one padded row of int8 weights.
@inline(__always)
func int8Dot(_ row: UnsafePointer<Int8>, _ x: UnsafePointer<Float>, columns: Int) -> Float {
    // Eight lanes at a time: SIMD8<Int8> → SIMD8<Int32> is one sign extension. The standard
    // library's SIMD8<Float>(SIMD8<Int32>) stayed a call in this package's build, so the
    // integers become floats through the exponent instead: the bits of 1.5·2^23 plus a small
    // integer are the float 1.5·2^23 + that integer, exactly.
    var sums = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
    let whole = columns / 32
    let raw = UnsafeRawPointer(row), input = UnsafeRawPointer(x)
    @inline(__always) func term(_ block: Int, _ part: Int, _ sum: SIMD8<Float>) -> SIMD8<Float> {
        let q = raw.loadUnaligned(fromByteOffset: block * 32 + part * 8, as: SIMD8<Int8>.self)
        let xs = input.loadUnaligned(fromByteOffset: block * 128 + part * 32, as: SIMD8<Float>.self)
        let widened = SIMD8<Int32>(truncatingIfNeeded: q) &+ 0x4B40_0000
        return multiplyAdd(unsafeBitCast(widened, to: SIMD8<Float>.self) - 12_582_912, xs, sum)
    }
    for block in 0..<whole {
        sums.0 = term(block, 0, sums.0)
        sums.1 = term(block, 1, sums.1)
        sums.2 = term(block, 2, sums.2)
        sums.3 = term(block, 3, sums.3)
    }
    var total = ((sums.0 + sums.1) + (sums.2 + sums.3)).sum()
    for j in whole * 32..<columns { total += Float(row[j]) * x[j] }
    return total
}
