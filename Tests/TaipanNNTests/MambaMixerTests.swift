import Foundation
import Testing
@testable import TaipanNN
import TaipanTensor
import TaipanTestSupport

/// The LTI and ungated mixers against a Float64 reference written from the equations.
@Suite struct MambaMixerTests {
    /// A small mixer: D = 2, E = 4, N = 3, K = 3.
    static func config(mixer: MambaMixerKind, gated: Bool) -> MambaConfig {
        var config = MambaConfig(vocabSize: 8, hiddenSize: 2, stateSize: 3, layerCount: 1, expand: 2, convKernel: 3)
        config.mixer = mixer
        config.gated = gated
        return config
    }

    /// The Float64 LTI mixer on hidden (B, L, D): in_proj, causal conv + silu, the scan with
    /// Δ = softplus(dt_bias), constant B, C, the D skip, the gate, out_proj.
    static func reference(_ named: [String: [Double]], hidden: [Double], batch: Int, length: Int, gated: Bool) -> [Double] {
        let (width, inner, state, kernel) = (2, 4, 3, 3)
        let projected = (gated ? 2 : 1) * inner
        let inWeight = named["in_proj.weight"]!, convWeight = named["conv1d.weight"]!, convBias = named["conv1d.bias"]!
        let dtBias = named["dt_bias"]!, b = named["B"]!, c = named["C"]!, aLog = named["A_log"]!, skip = named["D"]!
        let outWeight = named["out_proj.weight"]!
        var out = [Double](repeating: 0, count: batch * length * width)
        for item in 0..<batch {
            var p = [[Double]](repeating: [Double](repeating: 0, count: projected), count: length)
            for t in 0..<length {
                for o in 0..<projected {
                    for i in 0..<width { p[t][o] += inWeight[o * width + i] * hidden[(item * length + t) * width + i] }
                }
            }
            var h = [Double](repeating: 0, count: inner * state)
            for t in 0..<length {
                var y = [Double](repeating: 0, count: inner)
                for e in 0..<inner {
                    var convolved = convBias[e]
                    for k in 0..<kernel where t - (kernel - 1) + k >= 0 { convolved += convWeight[e * kernel + k] * p[t - (kernel - 1) + k][e] }
                    let u = convolved / (1 + exp(-convolved))
                    let step = log1p(exp(dtBias[e]))
                    var output = skip[e] * u
                    for n in 0..<state {
                        h[e * state + n] = exp(-step * exp(aLog[e * state + n])) * h[e * state + n] + step * b[n] * u
                        output += c[n] * h[e * state + n]
                    }
                    if gated { let z = p[t][inner + e]; output *= z / (1 + exp(-z)) }
                    y[e] = output
                }
                for o in 0..<width {
                    for e in 0..<inner { out[(item * length + t) * width + o] += outWeight[o * inner + e] * y[e] }
                }
            }
        }
        return out
    }

    @Test(arguments: [true, false])
    func ltiGradientsMatchFloat64FiniteDifferences(gated: Bool) throws {
        var generator = SeededGenerator(seed: gated ? 1 : 2)
        let mixer = MambaMixer(config: Self.config(mixer: .lti, gated: gated), generator: &generator)
        mixer.scanCheckpointInterval = 2
        #expect(mixer.namedParameters.map(\.name) == ["in_proj.weight", "conv1d.weight", "conv1d.bias", "dt_bias", "B", "C", "A_log", "D", "out_proj.weight"])
        // Values away from the initialisation so that every term matters.
        for (_, tensor) in mixer.namedParameters {
            for i in 0..<tensor.count { tensor.pointer[i] = 0.8 * generator.nextNormal() }
        }
        let (batch, length) = (2, 5)
        let hiddenValues = (0..<batch * length * 2).map { _ in generator.nextNormal() }
        let hidden = try Tensor(hiddenValues, shape: [batch, length, 2], requiresGrad: true)
        let output = mixer(hidden)
        let weights = (0..<output.count).map { _ in generator.nextNormal() }
        var named = Dictionary(uniqueKeysWithValues: mixer.namedParameters.map { ($0.name, $0.tensor.values.map(Double.init)) })
        let expected = Self.reference(named, hidden: hiddenValues.map(Double.init), batch: batch, length: length, gated: gated)
        #expect(relativeError(output.values, expected) < 1e-5)
        output.backward(gradient: try Tensor(weights, shape: output.shape))

        var input = hiddenValues.map(Double.init)
        func objective() -> Double {
            zip(Self.reference(named, hidden: input, batch: batch, length: length, gated: gated), weights).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        // Central differences: `set` moves one value of the reference's inputs.
        func numeric(_ saved: Double, _ set: (Double) -> Void) -> Double {
            let h = 1e-6
            set(saved + h)
            let plus = objective()
            set(saved - h)
            let minus = objective()
            set(saved)
            return (plus - minus) / (2 * h)
        }
        for (name, tensor) in mixer.namedParameters {
            let differences = (0..<tensor.count).map { j in numeric(named[name]![j]) { named[name]![j] = $0 } }
            let error = relativeError(tensor.grad?.values ?? [], differences)
            #expect(error < 1e-4, "\(name): relative error \(error)")
        }
        let differences = (0..<input.count).map { j in numeric(input[j]) { input[j] = $0 } }
        #expect(relativeError(hidden.grad?.values ?? [], differences) < 1e-4, "hidden")
    }

    /// The change an input makes at a later position: with LTI it does not depend on the other
    /// positions' content (Δ, B and C do not come from the input); with S6 it does.
    @Test func ltiResponsesDoNotDependOnContentButS6Responses() throws {
        func responseDifference(_ mixer: MambaMixerKind) throws -> Double {
            var generator = SeededGenerator(seed: 5)
            let model = MambaMixer(config: Self.config(mixer: mixer, gated: true), generator: &generator)
            for (_, tensor) in model.namedParameters { for i in 0..<tensor.count { tensor.pointer[i] += 0.5 * generator.nextNormal() } }
            let length = 12, s = 4, t = 11
            let a = (0..<length * 2).map { _ in generator.nextNormal() }
            var b = a
            // Other content far from s and t (outside the convolution's reach of either).
            for position in [0, 1, 7, 8] { for i in 0..<2 { b[position * 2 + i] = generator.nextNormal() } }
            func change(_ values: [Float]) throws -> [Float] {
                var perturbed = values
                perturbed[s * 2] += 0.5
                let before = try withoutGradients { model(try Tensor(values, shape: [1, length, 2])) }
                let after = try withoutGradients { model(try Tensor(perturbed, shape: [1, length, 2])) }
                return (0..<2).map { after.values[t * 2 + $0] - before.values[t * 2 + $0] }
            }
            let (changeA, changeB) = (try change(a), try change(b))
            return Double(zip(changeA, changeB).map { abs($0 - $1) }.max()!) / Double(changeA.map(abs).max()!)
        }
        #expect(try responseDifference(.lti) < 1e-4)
        #expect(try responseDifference(.s6) > 1e-2)
    }

    @Test func ungatedS6DropsTheGateAndHalvesInProj() {
        var generator = SeededGenerator(seed: 3)
        let mixer = MambaMixer(config: Self.config(mixer: .s6, gated: false), generator: &generator)
        #expect(mixer.inProjection.weight.shape == [4, 2])
        #expect(mixer.namedParameters.contains { $0.name == "x_proj.weight" })
        #expect(Self.config(mixer: .s6, gated: false).parameterShapes().first { $0.name.hasSuffix("in_proj.weight") }?.shape == [4, 2])
    }

    /// The recurrent batch gives the parallel forward's logits, position by position, for every
    /// kind of mixer.
    @Test(arguments: [(MambaMixerKind.s6, true), (.s6, false), (.lti, true), (.lti, false)])
    func recurrentBatchMatchesTheParallelForward(mixer: MambaMixerKind, gated: Bool) throws {
        var config = MambaConfig(vocabSize: 10, hiddenSize: 8, stateSize: 4, layerCount: 2, expand: 2, convKernel: 3)
        config.mixer = mixer
        config.gated = gated
        var generator = SeededGenerator(seed: 9)
        let model = MambaLM(config: config, generator: &generator)
        let (batch, length) = (3, 7)
        let ids = (0..<batch * length).map { _ in Int32(generator.next() % 10) }
        let logits = try withoutGradients { try model.forward(ids: ids, batch: batch, length: length).logits }
        let recurrence = try RecurrentBatch(model: model, batch: batch)
        for t in 0..<length {
            try recurrence.step((0..<batch).map { ids[$0 * length + t] })
            for row in 0..<batch {
                let expected = (0..<10).map { Double(logits.values[(row * length + t) * 10 + $0]) }
                #expect(relativeError(recurrence.logits(row: row), expected) < 1e-4, "row \(row), position \(t)")
            }
        }
    }
}
