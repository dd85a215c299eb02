// ForwardDump.swift — one forward (and optionally backward) pass of a model on token ids read
// from a safetensors file, written back as safetensors with the names of the reference
// fixtures: `logits`, `loss`, `hidden.i` and `grad.NAME`. Used by `taipan model forward` to
// compare Taipan with other implementations tensor by tensor.

import TaipanNN
import TaipanTensor

extension LanguageModel {
    /// Reads the int64 (or int32) `input_ids` (B, L) tensor of `inputPath`, runs the model and
    /// writes to `outputPath`: `logits` (B, L, V), `loss` (1) — the mean next-token
    /// cross-entropy — `hidden.i` (B, L, D) for every reported hidden state, and with
    /// `gradients`, `grad.NAME` = d loss / d parameter for every parameter.
    public func writeForwardPass(inputPath: String, outputPath: String, gradients: Bool) throws(CheckpointError) {
        let input = try SafeTensorsFile(path: inputPath)
        let info = try input.info("input_ids")
        guard info.shape.count == 2, info.shape[0] >= 1, info.shape[1] >= 1 else {
            throw CheckpointError.invalidTensor(
                path: inputPath, tensor: "input_ids", message: "must be (B, L) with B, L ≥ 1, got \(describeShape(info.shape))")
        }
        let (batch, length) = (info.shape[0], info.shape[1])
        var ids: [Int32] = []
        for id in try input.integers("input_ids") {
            guard id >= 0, id < vocabularySize else {
                throw CheckpointError.invalidTensor(
                    path: inputPath, tensor: "input_ids", message: "id \(id) is outside the vocabulary 0..<\(vocabularySize)")
            }
            ids.append(Int32(id))
        }
        let output: MambaOutput
        let loss: Tensor
        do {
            zeroGradients()
            output = try forward(ids: ids, batch: batch, length: length, returnHiddenStates: true)
            loss = try crossEntropy(logits: output.logits, targets: Self.nextTokenTargets(ids, batch: batch, length: length))
        } catch {
            throw CheckpointError.invalidTensor(path: inputPath, tensor: "input_ids", message: error.description)
        }
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        writer.add("logits", shape: output.logits.shape, floats: output.logits.values)
        writer.add("loss", shape: [1], floats: [loss.item])
        for (i, hidden) in output.hiddenStates.enumerated() { writer.add("hidden.\(i)", shape: hidden.shape, floats: hidden.values) }
        if gradients {
            loss.backward()
            for (name, parameter) in namedParameters {
                writer.add("grad.\(name)", shape: parameter.shape, floats: parameter.grad?.values ?? [Float](repeating: 0, count: parameter.count))
            }
        }
        try writer.write(to: outputPath)
    }
}
