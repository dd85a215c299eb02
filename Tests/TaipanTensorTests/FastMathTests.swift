import Foundation
import Testing
@testable import TaipanTensor

/// The error of `value` against the exact `reference`, in units in the last place of the float
/// nearest the reference (the subnormal spacing for subnormal results); infinite for a NaN value,
/// which `max` would otherwise skip.
private func ulpError(_ value: Float, _ reference: Double) -> Double {
    if value.isNaN { return .infinity }
    let rounded = Float(reference)
    let ulp = rounded == 0 ? Double(Float.leastNonzeroMagnitude) : Double(rounded.ulp)
    return abs(Double(value) - reference) / ulp
}

/// Applies a SIMD8 function to `inputs` eight at a time.
private func lanes(_ inputs: [Float], _ function: (SIMD8<Float>) -> SIMD8<Float>) -> [Float] {
    var outputs = [Float](repeating: 0, count: inputs.count)
    var start = 0
    while start < inputs.count {
        var vector = SIMD8<Float>(repeating: 0)
        let count = min(8, inputs.count - start)
        for lane in 0..<count { vector[lane] = inputs[start + lane] }
        let result = function(vector)
        for lane in 0..<count { outputs[start + lane] = result[lane] }
        start += 8
    }
    return outputs
}

/// `count` evenly spaced floats from `low` to `high`.
private func sweep(_ low: Double, _ high: Double, count: Int) -> [Float] {
    (0..<count).map { Float(low + (high - low) * Double($0) / Double(count - 1)) }
}

@Suite struct FastMathTests {
    @Test func expMatchesLibmOverTheWholeRange() {
        // 10M points from −104 (where e^x rounds to 0) to 89 (past overflow at 88.72).
        let inputs = sweep(-104, 89, count: 10_000_000)
        let vectorResults = lanes(inputs, fastExp)
        var worstNormal = 0.0, worstSubnormal = 0.0, mismatches = 0, scalarDiffers = 0
        for (index, x) in inputs.enumerated() {
            let value = vectorResults[index]
            if fastExp(x).bitPattern != value.bitPattern { scalarDiffers += 1 }
            let reference = Foundation.exp(Double(x))
            let rounded = Float(reference)
            if rounded.isInfinite || rounded == 0 {
                if value != rounded && !(rounded == 0 && value == Float.leastNonzeroMagnitude) {
                    mismatches += 1
                }
                continue
            }
            let error = ulpError(value, reference)
            if rounded.isNormal { worstNormal = max(worstNormal, error) }
            else { worstSubnormal = max(worstSubnormal, error) }
        }
        print("fastExp over [-104, 89], 10M points: max \(worstNormal) ulp (normal results), "
            + "\(worstSubnormal) ulp (subnormal results)")
        #expect(worstNormal <= 2)
        #expect(worstSubnormal <= 1)
        #expect(mismatches == 0)
        #expect(scalarDiffers == 0)
    }

    @Test func expSpecialValues() {
        let inputs: [Float] = [-.infinity, -1000, -104, 0, 1, 88.72, 88.8, 89, 1000, .infinity, .nan]
        let results = lanes(inputs, fastExp)
        #expect(results[0] == 0 && results[1] == 0 && results[2] == 0)
        #expect(results[3] == 1)
        #expect(abs(results[4] - 2.718_281_8) <= 2.4e-7)
        #expect(results[5].isFinite && results[5] > 3.3e38)
        #expect(results[6] == .infinity && results[7] == .infinity)
        #expect(results[8] == .infinity && results[9] == .infinity)
        #expect(results[10].isNaN)
        #expect(fastExp(-Float.infinity) == 0 && fastExp(Float.infinity) == .infinity)
        #expect(fastExp(Float.nan).isNaN)
    }

    @Test func exp2MatchesLibmWhereResultsAreNormal() {
        // 10M points over [−126, 127], where 2^x is a normal float, plus the integers exactly.
        let inputs = sweep(-126, 127, count: 10_000_000) + (-126...127).map { Float($0) }
        let results = lanes(inputs, fastExp2)
        var worst = 0.0, inexactPowers = 0
        for (index, x) in inputs.enumerated() {
            let reference = Foundation.exp2(Double(x))
            worst = max(worst, ulpError(results[index], reference))
            if x == x.rounded() && Double(results[index]) != reference { inexactPowers += 1 }
        }
        print("fastExp2 over [-126, 127], 10M points: max \(worst) ulp")
        #expect(worst <= 2)
        #expect(inexactPowers == 0)
    }

    @Test func exp2FlushesTinyResultsAndClampsLargeArguments() {
        let inputs: [Float] = [-.infinity, -1000, -127, -126.6, -126, 0, 0.5, 127, 1000, .infinity, .nan]
        let results = lanes(inputs, fastExp2)
        #expect(results[0] == 0 && results[1] == 0 && results[2] == 0 && results[3] == 0)
        #expect(results[4] == Float.leastNormalMagnitude)
        #expect(results[5] == 1)
        #expect(abs(Double(results[6]) - 2.0.squareRoot()) <= Double(Float(1.4142135).ulp))
        #expect(results[7] == 0x1p127 && results[8] == 0x1p127 && results[9] == 0x1p127)
        #expect(results[10].isNaN)
    }

    @Test func log1pMatchesLibm() {
        let inputs = sweep(-0.99, 100, count: 1_000_000)
            + [0, 1e-30, 1e-10, 1e-7, -1e-7, 3e-5, 0.414, 1, 1e6, 1e30]
        let results = lanes(inputs, fastLog1p)
        var worst = 0.0
        for (index, x) in inputs.enumerated() {
            worst = max(worst, ulpError(results[index], Foundation.log1p(Double(x))))
        }
        print("fastLog1p over [-0.99, 100]: max \(worst) ulp")
        #expect(worst <= 2)
        #expect(lanes([.nan], fastLog1p)[0].isNaN)
    }

    @Test func softplusMatchesLibm() {
        let inputs = sweep(-110, 110, count: 1_000_000) + [0, 1e-20, -1e-20, 20, 20.5, -87.5]
        let results = lanes(inputs, fastSoftplus)
        var worst = 0.0
        for (index, x) in inputs.enumerated() {
            let xd = Double(x)
            let reference = max(xd, 0) + Foundation.log1p(Foundation.exp(-abs(xd)))
            worst = max(worst, ulpError(results[index], reference))
        }
        print("fastSoftplus over [-110, 110]: max \(worst) ulp")
        #expect(worst <= 3)
        let special = lanes([-.infinity, .infinity, .nan], fastSoftplus)
        #expect(special[0] == 0 && special[1] == .infinity && special[2].isNaN)
    }

    @Test func sigmoidMatchesLibm() {
        // Below −88.7, e^−x overflows and the result flushes to 0 instead of a subnormal.
        let inputs = sweep(-88, 110, count: 1_000_000)
        let results = lanes(inputs, fastSigmoid)
        var worst = 0.0
        for (index, x) in inputs.enumerated() {
            worst = max(worst, ulpError(results[index], 1 / (1 + Foundation.exp(-Double(x)))))
        }
        print("fastSigmoid over [-88, 110]: max \(worst) ulp")
        #expect(worst <= 3)
        let special = lanes([-.infinity, .infinity, .nan], fastSigmoid)
        #expect(special[0] == 0 && special[1] == 1 && special[2].isNaN)
    }

    @Test func softplusAndSigmoidTogetherMatchLibm() {
        // The pair shares one exponential; its sigmoid keeps subnormal results (down to −103).
        let inputs = sweep(-103, 110, count: 1_000_000) + [0, 1e-20, -1e-20, -87.5, -95]
        let pairs = lanes(inputs) { fastSoftplusAndSigmoid($0).softplus } + lanes(inputs) { fastSoftplusAndSigmoid($0).sigmoid }
        var worstSoftplus = 0.0, worstSigmoid = 0.0
        for (index, x) in inputs.enumerated() {
            let xd = Double(x)
            let softplus = max(xd, 0) + Foundation.log1p(Foundation.exp(-abs(xd)))
            worstSoftplus = max(worstSoftplus, ulpError(pairs[index], softplus))
            worstSigmoid = max(worstSigmoid, ulpError(pairs[inputs.count + index], 1 / (1 + Foundation.exp(-xd))))
        }
        print("fastSoftplusAndSigmoid over [-103, 110]: max \(worstSoftplus) ulp, \(worstSigmoid) ulp")
        #expect(worstSoftplus <= 3)
        #expect(worstSigmoid <= 3)
        let special = [-Float.infinity, .infinity, .nan].map { fastSoftplusAndSigmoid(SIMD8(repeating: $0)) }
        #expect(special[0].softplus[0] == 0 && special[0].sigmoid[0] == 0)
        #expect(special[1].softplus[0] == .infinity && special[1].sigmoid[0] == 1)
        #expect(special[2].softplus[0].isNaN && special[2].sigmoid[0].isNaN)
    }

    @Test func multiplyAddFusesExactlyWhenTheBuildSaysSo() {
        // (1 + 2⁻¹³)(1 − 2⁻¹³) − 1 = −2⁻²⁶: a fused multiply-add keeps it; a separate multiply
        // rounds the product to 1 first and gives 0.
        let e: Float = 0x1p-13
        let result = multiplyAdd(SIMD8(repeating: 1 + e), SIMD8(repeating: 1 - e), SIMD8(repeating: -1))
        #if TAIPAN_FMA
        #expect(result == SIMD8(repeating: -0x1p-26))
        #else
        #expect(result == SIMD8(repeating: 0))
        #endif
        let wide = multiplyAdd(SIMD16<Float>(repeating: 3), SIMD16(repeating: 4), SIMD16(repeating: 5))
        #expect(wide == SIMD16(repeating: 17))
    }
}
