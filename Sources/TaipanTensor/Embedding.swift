// Embedding.swift — row lookup of a (V, D) table by Int32 token ids, with the scatter-add
// backward (rows of repeated ids receive every contribution).

/// Rows of `weight` (V, D) picked by `ids`; the result has shape `idShape + [D]`.
/// Throws when an id is outside 0..<V or `ids` does not fill `idShape`.
public func embedding(_ weight: Tensor, ids: [Int32], idShape: [Int]) throws(TensorError) -> Tensor {
    guard weight.rank == 2 else {
        throw .shapeMismatch("embedding: the table must be (V, D), got \(describeShape(weight.shape))")
    }
    guard ids.count == idShape.reduce(1, *), idShape.allSatisfy({ $0 >= 0 }) else {
        throw .shapeMismatch("embedding: \(ids.count) ids do not fill shape \(describeShape(idShape))")
    }
    let vocabulary = weight.shape[0], width = weight.shape[1]
    if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
        throw .invalidArgument("embedding: token id \(bad) is outside the vocabulary 0..<\(vocabulary)")
    }
    let result = Tensor(zeros: idShape + [width])
    let table = weight.pointer, out = result.pointer
    ids.withUnsafeBufferPointer { ids in
        parallelFor(ids.count, grain: Swift.max(1, 4096 / Swift.max(width, 1))) { range in
            for i in range { (out + i * width).update(from: table + Int(ids[i]) * width, count: width) }
        }
    }
    return result.recording([weight]) { out in
        let g = out.grad!.pointer
        weight.accumulateGradient { dW in
            ids.withUnsafeBufferPointer { ids in
                // Split by columns, not ids: each thread owns whole columns of the table, so
                // repeated ids never race and every sum runs in id order.
                parallelFor(width, grain: 16) { columns in
                    for i in 0..<ids.count {
                        let row = dW + Int(ids[i]) * width, from = g + i * width
                        for j in columns { row[j] += from[j] }
                    }
                }
            }
        }
    }
}
