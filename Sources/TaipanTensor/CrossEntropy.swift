// CrossEntropy.swift — softmax cross-entropy fused with its backward: the loss comes from
// each row's logsumexp, and the gradient softmax − onehot is formed on the fly from the
// logits and the saved logsumexp, never as a separate softmax tensor.

import Foundation

/// How per-token losses combine into one number.
public enum LossReduction: Sendable {
    /// The mean over targets that are not ignored (0 when all are ignored).
    case mean
    /// The sum over targets that are not ignored (to weight micro-batches by tokens).
    case sum
}

/// Cross-entropy of `logits` (…, V) against `targets` (one per row), skipping targets equal
/// to `ignoreIndex`. Returns a scalar.
public func crossEntropy(
    logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100, reduction: LossReduction = .mean
) throws(TensorError) -> Tensor {
    guard logits.rank >= 1, let classes = logits.shape.last, classes > 0 else {
        throw .shapeMismatch("crossEntropy: logits need a class dimension, got \(describeShape(logits.shape))")
    }
    let rows = logits.count / classes
    guard targets.count == rows else {
        throw .shapeMismatch("crossEntropy: \(targets.count) targets for logits \(describeShape(logits.shape)) (\(rows) rows)")
    }
    if let bad = targets.first(where: { $0 != ignoreIndex && ($0 < 0 || Int($0) >= classes) }) {
        throw .invalidArgument("crossEntropy: target \(bad) is outside the classes 0..<\(classes)")
    }
    let counted = targets.filter { $0 != ignoreIndex }.count
    var logSumExp = [Float](repeating: 0, count: rows)  // (rows,)
    var rowLoss = [Float](repeating: 0, count: rows)  // (rows,)
    let x = logits.pointer
    targets.withUnsafeBufferPointer { targets in
        logSumExp.withUnsafeMutableBufferPointer { lse in
            rowLoss.withUnsafeMutableBufferPointer { loss in
                parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                    for r in range where targets[r] != ignoreIndex {
                        let row = x + r * classes
                        var tops = SIMD8<Float>(repeating: -.infinity), top = -Float.infinity
                        forEachVector(0..<classes) { j in
                            // Not pointwiseMax: the standard library's is a call per vector.
                            let values = SIMD8<Float>(loading: row + j)
                            tops.replace(with: values, where: values .> tops)
                        } scalar: { j in
                            top = Swift.max(top, row[j])
                        }
                        top = Swift.max(top, tops.max())
                        var totals = SIMD8<Float>(repeating: 0), total: Float = 0
                        forEachVector(0..<classes) { j in
                            totals += fastExp(SIMD8<Float>(loading: row + j) - top)
                        } scalar: { j in
                            total += fastExp(row[j] - top)
                        }
                        lse[r] = top + Foundation.log(total + totals.sum())
                        loss[r] = lse[r] - row[Int(targets[r])]
                    }
                }
            }
        }
    }
    let total = rowLoss.reduce(0.0) { $0 + Double($1) }
    let scale: Float = reduction == .sum ? 1 : (counted == 0 ? 0 : 1 / Float(counted))
    let result = Tensor(scalar: Float(total) * scale)
    return result.recording([logits]) { out in
        let g = out.grad!.item * scale
        logits.accumulateGradient { dx in
            targets.withUnsafeBufferPointer { targets in
                logSumExp.withUnsafeBufferPointer { lse in
                    parallelFor(rows, grain: Swift.max(1, 8192 / classes)) { range in
                        for r in range where targets[r] != ignoreIndex {
                            let row = x + r * classes, d = dx + r * classes
                            let shift = lse[r]
                            forEachVector(0..<classes) { j in
                                (SIMD8<Float>(loading: d + j) + g * fastExp(SIMD8<Float>(loading: row + j) - shift)).store(to: d + j)
                            } scalar: { j in
                                d[j] += g * fastExp(row[j] - shift)
                            }
                            d[Int(targets[r])] -= g
                        }
                    }
                }
            }
        }
    }
}
