// Int8Matrix.swift — weight matrices stored as 8-bit integers with one float32 scale per row, for
// memory-bound matrix-vector products (decoding one token at a time), where the time of a
// product is the bytes of weights read: a quarter of float32's, half of bfloat16's.
//
// Quantisation is symmetric and per row ("absmax"): scale = max |w| / 127 over the row, q =
// round(w / scale) in −127…127, and the stored weight is q·scale. Rows are padded with zero
// weights to a multiple of 32 columns.
//
// Products are integer dot products. The input vector is rounded once per product to 16-bit
// integers, per block of 512 columns: xScale = max |x| / 32767 over the block, xq = round(x /
// xScale). Then y_r = scale_r · Σ_blocks xScale_b · Σ_{j in b} q_rj · xq_j, the inner sum exact
// in Int32 (512 · 127 · 32767 < 2³¹) and the blocks added in order in float32. The rounding of x
// is at most half of 2⁻¹⁵ of the block's largest magnitude, far below the weights' own rounding
// of half of 2⁻⁷ of the row's, and the integer products are what makes int8 decoding faster
// than bfloat16: the compiler turns the loop into pmaddwd (16-bit products summed in pairs into
// 32-bit lanes), about 2.7 times the multiply-adds a cycle of the float32 path it replaced,
// which converted each weight to float first (measured on one core of a 2-core AMD EPYC
// virtual machine, in cache: 16.3 against 6.1 billion a second).

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

    /// Columns per block of the input's rounding: the most whose integer products sum exactly
    /// in Int32 (512 · 127 · 32767 < 2³¹). A multiple of 32, so blocks start on padded rows'
    /// 32-column boundaries.
    static let blockColumns = 512

    /// y (rows) ← W · x (columns), with x rounded to 16 bits per block as the header says. Rows
    /// are spread over `team` (or over `Threads.count` Dispatch threads) when the matrix is large
    /// enough to pay for it; each row is summed in a fixed order by one thread, so the result
    /// does not depend on the thread count. An input holding a NaN or an infinity makes every
    /// output NaN.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, team: SpinningTeam? = nil) {
        let (rows, columns, rowBytes, blockColumns) = (self.rows, self.columns, self.rowBytes, Self.blockColumns)
        let blocks = (rowBytes + blockColumns - 1) / blockColumns
        withUnsafeTemporaryAllocation(of: Int16.self, capacity: Swift.max(1, rowBytes)) { xq in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(1, blocks)) { xScales in
                let (xq, xScales) = (xq.baseAddress!, xScales.baseAddress!)
                xq.initialize(repeating: 0, count: Swift.max(1, rowBytes))
                for block in 0..<blocks {
                    // The last block may be only padding past the columns: then it is empty here.
                    let start = block * blockColumns, end = Swift.max(start, Swift.min(columns, start + blockColumns))
                    var largest: Float = 0, finite = true
                    for j in start..<end {
                        largest = Swift.max(largest, Swift.abs(x[j]))
                        finite = finite && x[j].isFinite
                    }
                    guard finite else {
                        y.update(repeating: .nan, count: rows)
                        return
                    }
                    let scale = largest / 32_767
                    xScales[block] = scale
                    if scale > 0 {
                        for j in start..<end {
                            xq[j] = Int16(Swift.min(32_767, Swift.max(-32_767, (x[j] / scale).rounded(.toNearestOrEven))))
                        }
                    }
                }
                let (values, scales) = (UnsafePointer(self.values), UnsafePointer(self.scales))
                let (inputs, inputScales) = (UnsafePointer(xq), UnsafePointer(xScales))
                forEachRowPiece(rows: rows, columns: columns, team: team) { range in
                    for r in range {
                        let row = values + r * rowBytes
                        var total: Float = 0
                        for block in 0..<blocks {
                            let start = block * blockColumns, count = Swift.min(blockColumns, rowBytes - start)
                            total += inputScales[block] * Float(int16Dot(row + start, inputs + start, count: count))
                        }
                        y[r] = scales[r] * total
                    }
                }
            }
        }
    }
}

/// Σ_j q[j] · x[j] over `count` columns, exact as long as it fits in Int32. Written as a plain
/// loop on purpose: the compiler vectorises it into sign extensions and pmaddwd, which explicit
/// SIMD code (whose wide integer conversions stay calls into the standard library) did not get.
@inline(__always)
func int16Dot(_ q: UnsafePointer<Int8>, _ x: UnsafePointer<Int16>, count: Int) -> Int32 {
    var sum: Int32 = 0
    for j in 0..<count { sum &+= Int32(q[j]) &* Int32(x[j]) }
    return sum
}
