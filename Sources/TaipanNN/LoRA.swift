// LoRA.swift — low-rank adaptation (Hu et al., "LoRA: Low-Rank Adaptation of Large Language
// Models", 2021) of a Linear layer, as PEFT implements it: the frozen weight W (out, in) gets a
// trained update ΔW = s·B·A with A (r, in), B (out, r) and s = α / r (α / √r with rsLoRA), so
// y = x·Wᵀ + b + s·dropout(x)·Aᵀ·Bᵀ. A starts Kaiming-uniform, B at zero: training starts from
// the base model exactly. Adapters are found by module-name patterns, as PEFT finds its
// targets, and are named as PEFT saves them (`….in_proj.lora_A.weight`).
//
// Dimension letters: r rank, I input size, O output size.

import Foundation
import TaipanTensor

/// The trained low-rank update of one Linear layer.
public final class LowRankAdapter {
    /// lora_A.weight: (r, I).
    public let a: Tensor
    /// lora_B.weight: (O, r).
    public let b: Tensor
    /// s: α / r, or α / √r with rsLoRA.
    public let scaling: Float
    /// The probability that dropout zeroes an input element while training (0: none).
    public let dropout: Float
    /// Seeds the dropout mask of the next forward pass; whoever trains sets it per micro-batch
    /// (from the step, so that a resumed run draws the same masks).
    public var dropoutKey: UInt64 = 0
    /// Whether the next forward passes apply dropout (training) or not (evaluation).
    public var training = true

    /// A fresh adapter as PEFT initialises one: A uniform in ±1/√I (Kaiming with a = √5), B zero.
    public init(
        inputSize: Int, outputSize: Int, rank: Int, scaling: Float, dropout: Float, generator: inout SeededGenerator
    ) {
        let bound = 1 / Float(inputSize).squareRoot()
        a = Tensor(uniform: [rank, inputSize], low: -bound, high: bound, generator: &generator, requiresGrad: true)
        b = Tensor(zeros: [outputSize, rank], requiresGrad: true)
        self.scaling = scaling
        self.dropout = dropout
    }

    /// An adapter holding the given matrices (e.g. loaded from an adapter file).
    public init(a: Tensor, b: Tensor, scaling: Float, dropout: Float) {
        self.a = a
        self.b = b
        self.scaling = scaling
        self.dropout = dropout
    }

    public var rank: Int { a.shape[0] }

    /// The update of the layer's output: x (…, I) → s·dropout(x)·Aᵀ·Bᵀ (…, O).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let input = training && dropout > 0 ? x * dropoutMask(like: x) : x
        return matmul(matmul(input, a, transposeB: true), b, transposeB: true) * scaling
    }

    /// Adds s·B·A to `weight` (O, I): the layer then computes what layer + adapter did.
    public func merge(into weight: Tensor) {
        let (outputs, inputs, r) = (b.shape[0], a.shape[1], rank)
        sgemm(
            transposeA: false, transposeB: false, m: outputs, n: inputs, k: r, alpha: scaling,
            a: b.pointer, lda: r, b: a.pointer, ldb: inputs, beta: 1, c: weight.pointer, ldc: inputs)
    }

    /// 0 or 1/(1 − p) per element, drawn from `dropoutKey` alone.
    private func dropoutMask(like x: Tensor) -> Tensor {
        let mask = Tensor(uninitialized: x.shape)
        let keep = 1 / (1 - dropout)
        let threshold = UInt64(Double(dropout) * 0x1p53)
        for index in 0..<mask.count {
            var state = dropoutKey &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
            state ^= state >> 31
            mask.pointer[index] = state >> 11 < threshold ? 0 : keep
        }
        return mask
    }
}

/// What a model's adapters are: PEFT's `LoraConfig` fields that Taipan uses.
public struct LoRASettings: Equatable, Sendable {
    /// r.
    public var rank: Int
    /// α: the update is scaled by α / r (α / √r with `useRSLoRA`).
    public var alpha: Double
    public var dropout: Double
    /// Module-name patterns of the layers that get adapters: a name matches when it equals the
    /// pattern or ends with "." + pattern (PEFT's rule for a list of names).
    public var targetModules: [String]
    /// Module-name patterns of layers trained in full and saved with the adapter.
    public var modulesToSave: [String]
    public var useRSLoRA: Bool

    public init(rank: Int, alpha: Double, dropout: Double = 0, targetModules: [String], modulesToSave: [String] = [], useRSLoRA: Bool = false) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targetModules = targetModules
        self.modulesToSave = modulesToSave
        self.useRSLoRA = useRSLoRA
    }

    /// s: α / r, or α / √r with rsLoRA.
    public var scaling: Float { Float(useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)) }

    /// Whether the module named `name` (e.g. `backbone.layers.0.mixer.in_proj`) matches one of
    /// `patterns`.
    public static func matches(_ name: String, _ patterns: [String]) -> Bool {
        patterns.contains { name == $0 || name.hasSuffix("." + $0) }
    }
}

extension MambaLM {
    /// Every Linear layer under its module name (`backbone.layers.3.mixer.x_proj`), in order.
    public var namedLinearLayers: [(name: String, layer: Linear)] {
        layers.enumerated().flatMap { index, block -> [(name: String, layer: Linear)] in
            let mixer = block.mixer, prefix = "backbone.layers.\(index).mixer."
            let layers: [(name: String, layer: Linear?)] = [
                (prefix + "in_proj", mixer.inProjection), (prefix + "x_proj", mixer.xProjection),
                (prefix + "dt_proj", mixer.timeStepProjection), (prefix + "out_proj", mixer.outProjection),
            ]
            // An LTI mixer has no x_proj or dt_proj.
            return layers.compactMap { entry in entry.layer.map { (entry.name, $0) } }
        }
    }

    /// Module names of every part of the model a LoRA pattern may name (layers, norms, the
    /// embedding, the conv), so that a pattern naming nothing can be reported.
    public var moduleNames: [String] {
        var names = ["backbone.embeddings", "backbone.norm_f"] + (head == nil ? [] : ["lm_head"])
        for index in layers.indices {
            let prefix = "backbone.layers.\(index)"
            names += [prefix + ".norm", prefix + ".mixer.conv1d"] + ["in_proj", "x_proj", "dt_proj", "out_proj"].map { prefix + ".mixer." + $0 }
        }
        return names
    }

}

extension LanguageModel {
    /// The adapters' parameters under PEFT's names relative to the model
    /// (`backbone.layers.0.mixer.in_proj.lora_A.weight`), in model order.
    public var adapterParameters: [(name: String, tensor: Tensor)] {
        namedLinearLayers.flatMap { name, layer -> [(name: String, tensor: Tensor)] in
            guard let adapter = layer.adapter else { return [] }
            return [(name + ".lora_A.weight", adapter.a), (name + ".lora_B.weight", adapter.b)]
        }
    }

    /// The model's adapters, in model order.
    public var adapters: [LowRankAdapter] { namedLinearLayers.compactMap(\.layer.adapter) }

    /// Parameters of the modules `patterns` name (PEFT's `modules_to_save`), by parameter name.
    public func parameters(ofModules patterns: [String]) -> [(name: String, tensor: Tensor)] {
        namedParameters.filter { name, _ in
            let module = name.split(separator: ".").dropLast().joined(separator: ".")
            return LoRASettings.matches(module, patterns)
        }
    }

    /// Gives every Linear layer that `settings.targetModules` names a fresh adapter (replacing
    /// any it had); returns their module names.
    @discardableResult
    public func attachAdapters(_ settings: LoRASettings, generator: inout SeededGenerator) -> [String] {
        var attached: [String] = []
        for (name, layer) in namedLinearLayers where LoRASettings.matches(name, settings.targetModules) {
            layer.adapter = LowRankAdapter(
                inputSize: layer.weight.shape[1], outputSize: layer.weight.shape[0], rank: settings.rank,
                scaling: settings.scaling, dropout: Float(settings.dropout), generator: &generator)
            attached.append(name)
        }
        return attached
    }

    /// Adds every adapter's update into its layer's weight and removes the adapters: the model
    /// then computes what it computed with them, at the cost of one float rounding per weight.
    public func mergeAdapters() {
        for (_, layer) in namedLinearLayers {
            guard let adapter = layer.adapter else { continue }
            adapter.merge(into: layer.weight)
            layer.adapter = nil
        }
    }

    /// A copy of this model with every adapter merged into its layer's weight (for decoding,
    /// which reads the weights directly); this model keeps its adapters.
    public func mergedCopy() -> any LanguageModel {
        var generator = SeededGenerator(seed: 0)
        let copy = configuration.makeModel(generator: &generator)
        for ((_, source), (_, target)) in zip(namedParameters, copy.namedParameters) {
            target.pointer.update(from: source.pointer, count: source.count)
        }
        for ((_, layer), (_, copied)) in zip(namedLinearLayers, copy.namedLinearLayers) {
            layer.adapter?.merge(into: copied.weight)
        }
        return copy
    }

    /// Puts every adapter in training (dropout on) or evaluation mode, and sets the key its
    /// next dropout masks are drawn from (each adapter's own, derived from `key`).
    public func setAdapterMode(training: Bool, dropoutKey key: UInt64 = 0) {
        for (index, adapter) in adapters.enumerated() {
            adapter.training = training
            adapter.dropoutKey = (key ^ UInt64(index)) &* 0xD6E8_FEB8_6659_FD93
        }
    }
}
