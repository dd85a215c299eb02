// Matmul.swift — matrix products through OpenBLAS `cblas_sgemm`, 2-D and batched, with
// transpose flags handed to sgemm (a transpose is never materialised), and their backward.

import CBLAS

/// C ← alpha · op(A) · op(B) + beta · C for row-major matrices: op(A) is (m, k), op(B) is
/// (k, n), C is (m, n); `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
@inlinable
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // An empty sum: C ← beta·C, made explicit (and exact zeros for beta = 0, whatever
        // C held before).
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    if m == 1 {
        // One row (decoding a token): a matrix-vector product reads B once, where sgemm would
        // first pack all of it. cᵀ = op(A)ᵀ-row · op(B), i.e. c = op(B)ᵀ · a.
        cblas_sgemv(
            CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k), Int32(transposeB ? k : n),
            alpha, b, Int32(ldb), a, Int32(transposeA ? lda : 1), beta, c, 1)
        return
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The shape of `matmul(a, b)`, or an error naming the op and both shapes.
///
/// Both operands' last two dimensions are matrices (transposed when the flag is set).
/// Leading (batch) dimensions must match, or one operand must be a plain matrix shared by
/// every batch element.
public func matmulShape(
    _ a: [Int], _ b: [Int], transposeA: Bool = false, transposeB: Bool = false
) throws(TensorError) -> [Int] {
    let shapes = "matmul: \(describeShape(a))\(transposeA ? "ᵀ" : "") × \(describeShape(b))\(transposeB ? "ᵀ" : "")"
    guard a.count >= 2, b.count >= 2 else { throw .shapeMismatch("\(shapes): both operands need at least 2 dimensions") }
    let (m, kA) = transposeA ? (a[a.count - 1], a[a.count - 2]) : (a[a.count - 2], a[a.count - 1])
    let (kB, n) = transposeB ? (b[b.count - 1], b[b.count - 2]) : (b[b.count - 2], b[b.count - 1])
    guard kA == kB else { throw .shapeMismatch("\(shapes): inner sizes \(kA) and \(kB) differ") }
    let batchA = Array(a.dropLast(2)), batchB = Array(b.dropLast(2))
    guard batchA == batchB || batchA.isEmpty || batchB.isEmpty else {
        throw .shapeMismatch("\(shapes): batch dimensions \(describeShape(batchA)) and \(describeShape(batchB)) differ")
    }
    return (batchA.isEmpty ? batchB : batchA) + [m, n]
}

/// The product op(a) · op(b) over the last two dimensions, batched over the leading ones.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let outShape: [Int]
    do { outShape = try matmulShape(a.shape, b.shape, transposeA: transposeA, transposeB: transposeB) } catch {
        preconditionFailure(error.description)
    }
    let m = outShape[outShape.count - 2], n = outShape[outShape.count - 1]
    let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
    let rowsA = a.shape[a.rank - 2], columnsA = a.shape[a.rank - 1]
    let columnsB = b.shape[b.rank - 1]
    let batches = outShape.dropLast(2).reduce(1, *)
    let strideA = a.rank > 2 ? rowsA * columnsA : 0
    let strideB = b.rank > 2 ? b.shape[b.rank - 2] * columnsB : 0
    let strideC = m * n
    let result = Tensor(uninitialized: outShape)
    // A batch of rows times one shared matrix is a single taller product.
    let foldBatch = b.rank == 2 && !transposeA && a.rank > 2

    if foldBatch {
        sgemm(transposeA: false, transposeB: transposeB, m: batches * m, n: n, k: k,
              a: a.pointer, lda: columnsA, b: b.pointer, ldb: columnsB, c: result.pointer, ldc: n)
    } else {
        for batch in 0..<batches {
            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                  a: a.pointer + batch * strideA, lda: columnsA, b: b.pointer + batch * strideB, ldb: columnsB,
                  c: result.pointer + batch * strideC, ldc: n)
        }
    }

    return result.recording([a, b]) { out in
        let g = out.grad!.pointer
        if a.requiresGrad {
            a.accumulateGradient { da in
                if foldBatch {
                    // dA (B·M, K) += dC (B·M, N) · op(B)ᵀ
                    sgemm(transposeA: false, transposeB: !transposeB, m: batches * m, n: k, k: n,
                          a: g, lda: n, b: b.pointer, ldb: columnsB, beta: 1, c: da, ldc: columnsA)
                    return
                }
                for batch in 0..<batches {
                    let dA = da + batch * strideA, gC = g + batch * strideC, B = b.pointer + batch * strideB
                    if transposeA {
                        // A is (K, M): dA += op(B) · dCᵀ
                        sgemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                              a: B, lda: columnsB, b: gC, ldb: n, beta: 1, c: dA, ldc: columnsA)
                    } else {
                        // A is (M, K): dA += dC · op(B)ᵀ
                        sgemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                              a: gC, lda: n, b: B, ldb: columnsB, beta: 1, c: dA, ldc: columnsA)
                    }
                }
            }
        }
        if b.requiresGrad {
            b.accumulateGradient { db in
                if foldBatch {
                    accumulateWeightGradient(
                        db, transposeB: transposeB, transposeA: false, m: batches * m, n: n, k: k,
                        a: a.pointer, lda: columnsA, g: g, columnsB: columnsB)
                    return
                }
                for batch in 0..<batches {
                    accumulateWeightGradient(
                        db + batch * strideB, transposeB: transposeB, transposeA: transposeA, m: m, n: n, k: k,
                        a: a.pointer + batch * strideA, lda: columnsA, g: g + batch * strideC, columnsB: columnsB)
                }
            }
        }
    }
}

/// dB += op(A)ᵀ · dC (B stored (K, N)) or dB += dCᵀ · op(A) (B stored (N, K)).
private func accumulateWeightGradient(
    _ db: UnsafeMutablePointer<Float>, transposeB: Bool, transposeA: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, g: UnsafePointer<Float>, columnsB: Int
) {
    if transposeB {
        sgemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
              a: g, lda: n, b: a, ldb: lda, beta: 1, c: db, ldc: columnsB)
    } else {
        sgemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
              a: a, lda: lda, b: g, ldb: n, beta: 1, c: db, ldc: columnsB)
    }
}
