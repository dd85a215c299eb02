// BFloat16.swift — weight matrices stored as bfloat16 (the top 16 bits of a float32) for
// memory-bound matrix-vector products, i.e. decoding one token at a time, where every weight is
// read once per token and the time is the bytes read. Products accumulate in float32.
//
// Debian's OpenBLAS is built without its bfloat16 routines, so this is Taipan's own kernel;
// float32 products still go through OpenBLAS.
//
// Layout: each row is cut into blocks of 32 columns; in a block, 32-bit lane i (0 ≤ i < 16)
// holds column i in its low half and column 16 + i in its high half. Widening is then one
// shift (low halves) or one mask (high halves), with x read in its natural order. Rows are
// padded with zero weights to a whole number of blocks.

/// `value` rounded to the nearest bfloat16 (ties to even), as its 16 bits. NaN stays NaN.
@inlinable
public func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// The float32 value of bfloat16 `bits`.
@inlinable
public func float(fromBFloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// `value` rounded to bfloat16 precision (ties to even).
@inlinable
public func bfloat16Rounded(_ value: Float) -> Float { float(fromBFloat16: bfloat16Bits(value)) }

/// A (rows, columns) matrix of bfloat16 weights, read-only once built.
public final class BFloat16Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    /// 32-bit words per row: two bfloat16 values each, columns padded to a multiple of 32.
    let rowWords: Int
    let words: UnsafeMutablePointer<UInt32>

    /// Rounds `matrix` (rows, columns), a float32 row-major matrix, to bfloat16.
    public init(_ matrix: Tensor) {
        precondition(matrix.rank == 2, "BFloat16Matrix: needs a matrix, got \(describeShape(matrix.shape))")
        rows = matrix.shape[0]
        columns = matrix.shape[1]
        rowWords = (columns + 31) / 32 * 16
        words = .allocate(capacity: Swift.max(1, rows * rowWords))
        words.initialize(repeating: 0, count: Swift.max(1, rows * rowWords))
        for r in 0..<rows {
            let source = matrix.pointer + r * columns, row = words + r * rowWords
            for j in 0..<columns {
                let (block, lane, high) = (j / 32, j % 16, (j % 32) >= 16)
                let bits = UInt32(bfloat16Bits(source[j]))
                row[block * 16 + lane] |= high ? bits << 16 : bits
            }
        }
    }

    deinit { words.deallocate() }

    /// The bytes the weights take.
    public var byteCount: Int { rows * rowWords * 4 }

    /// The stored (rounded) weight at (row, column), as float32.
    public subscript(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "BFloat16Matrix: index out of range")
        let word = words[row * rowWords + (column / 32) * 16 + column % 16]
        return Float(bitPattern: (column % 32) >= 16 ? word & 0xFFFF_0000 : word << 16)
    }

    /// y (rows) ← W · x (columns), accumulated in float32. Rows are spread over `team` (or
    /// over `Threads.count` Dispatch threads) when the matrix is large enough to pay for it;
    /// each row is summed in a fixed order by one thread, so the result does not depend on the
    /// thread count.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, team: SpinningTeam? = nil) {
        let (columns, rowWords, words) = (self.columns, self.rowWords, UnsafePointer(self.words))
        forEachRowPiece(rows: rows, columns: columns, team: team) { range in
            for r in range { y[r] = bfloat16Dot(words + r * rowWords, x, columns: columns) }
        }
    }
}

/// Σ_j w[j] · x[j] over `columns` for one packed row.
@inline(__always)
func bfloat16Dot(_ row: UnsafePointer<UInt32>, _ x: UnsafePointer<Float>, columns: Int) -> Float {
    var low = SIMD16<Float>(), high = SIMD16<Float>()
    let whole = columns / 32
    let raw = UnsafeRawPointer(row), input = UnsafeRawPointer(x)
    for block in 0..<whole {
        let packed = raw.loadUnaligned(fromByteOffset: block * 64, as: SIMD16<UInt32>.self)
        let offset = block * 128
        low = multiplyAdd(
            unsafeBitCast(packed &<< 16, to: SIMD16<Float>.self),
            input.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self), low)
        high = multiplyAdd(
            unsafeBitCast(packed & 0xFFFF_0000, to: SIMD16<Float>.self),
            input.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self), high)
    }
    var total = (low + high).sum()
    let start = whole * 32
    if start < columns {
        // The last, partial block: its missing columns hold zero weights, x is read in bounds.
        let block = row + whole * 16
        for lane in 0..<16 where start + lane < columns {
            total += Float(bitPattern: block[lane] << 16) * x[start + lane]
            if start + 16 + lane < columns { total += Float(bitPattern: block[lane] & 0xFFFF_0000) * x[start + 16 + lane] }
        }
    }
    return total
}
