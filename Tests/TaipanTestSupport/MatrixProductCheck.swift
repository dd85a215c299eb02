// MatrixProductCheck.swift — test support for the narrow-weight matrices (bfloat16, int8): their
// matrix-vector product against a Float64 reference on the weights they store, on every thread
// count.

import Testing
import TaipanTensor

/// Expects `multiply(x, y, team)` to give y = W·x for the (rows, columns) matrix whose stored
/// weights `storedWeight(row, column)` returns, within float32 summation error of a Float64
/// reference, and the same bits with no team and with teams of 1, 2 and 3 threads. The
/// reference multiplies `referenceInput` when given (the input as the product rounds it), x
/// otherwise.
public func expectMatrixVectorProduct(
    rows: Int, columns: Int, x: [Float], referenceInput: [Double]? = nil,
    storedWeight: (_ row: Int, _ column: Int) -> Float,
    multiply: (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ team: SpinningTeam?) -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var expected = [Double](repeating: 0, count: rows), magnitude = 0.0
    let input = referenceInput ?? x.map(Double.init)
    for r in 0..<rows {
        for c in 0..<columns {
            let term = Double(storedWeight(r, c)) * input[c]
            expected[r] += term
            magnitude = max(magnitude, abs(term))
        }
    }
    var outputs: [[Float]] = []
    for team in [nil, SpinningTeam(size: 1), SpinningTeam(size: 2), SpinningTeam(size: 3)] {
        var y = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { multiply(xs.baseAddress!, $0.baseAddress!, team) }
        }
        outputs.append(y)
    }
    for (r, value) in outputs[0].enumerated() {
        #expect(abs(Double(value) - expected[r]) <= 1e-6 * Double(columns) * max(magnitude, 1), "row \(r)",
                sourceLocation: sourceLocation)
    }
    // Every row is summed by one thread in one order: the thread count changes nothing.
    #expect(outputs.allSatisfy { $0 == outputs[0] }, sourceLocation: sourceLocation)
}
