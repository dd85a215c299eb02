// Autodiff.swift — reverse-mode automatic differentiation over the tensor graph.
//
// An op computes its output, then (only when an input needs a gradient and recording is on)
// attaches a closure that adds (`+=`) the output's gradient into its inputs' gradients, as in
// micrograd. `backward()` sorts the graph once, runs the closures in reverse order and then
// releases the graph.

/// Whether ops record the graph; `withoutGradients` turns it off for a scope. The setting
/// belongs to the running task (or thread), as PyTorch's grad mode belongs to its thread, so
/// evaluation on one thread never silences training on another.
public enum GradientMode {
    @TaskLocal static var isRecording = true

    /// True when ops currently record the graph.
    public static var isEnabled: Bool { isRecording }
}

/// Runs `body` without recording any graph (evaluation, generation, optimizer updates).
@discardableResult
public func withoutGradients<Value, Failure: Error>(_ body: () throws(Failure) -> Value) throws(Failure) -> Value {
    let outcome = GradientMode.$isRecording.withValue(false) { Result { () throws(Failure) -> Value in try body() } }
    return try outcome.get()
}

extension Tensor {
    /// Attaches `backward` to `self` (an op's freshly computed result) when any of `inputs`
    /// needs a gradient and recording is on; otherwise records nothing. `backward` receives
    /// the result, whose `grad` holds the incoming gradient.
    @discardableResult
    public func recording(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> Void) -> Tensor {
        guard GradientMode.isRecording else { return self }
        let needing = inputs.filter(\.requiresGrad)
        guard !needing.isEmpty else { return self }
        requiresGrad = true
        parents = needing
        backwardClosure = backward
        return self
    }

    /// Calls `body` with this tensor's gradient buffer, creating it (zeros) first if needed,
    /// so that a backward closure can add into it in place.
    public func accumulateGradient(_ body: (UnsafeMutablePointer<Float>) -> Void) {
        if grad == nil { grad = Tensor(zeros: shape) }
        body(grad!.pointer)
    }

    /// Adds `gradient` (same element count) into this tensor's gradient.
    public func accumulateGradient(_ gradient: Tensor) {
        precondition(gradient.count == count, "accumulateGradient: \(describeShape(gradient.shape)) into \(describeShape(shape))")
        let source = gradient.pointer
        accumulateGradient { target in
            parallelFor(count, grain: 16384) { range in
                for i in range { target[i] += source[i] }
            }
        }
    }

    /// Backpropagates from this tensor. With no `gradient`, the tensor must be a scalar and
    /// the seed is 1. Leaves (parameters) keep accumulating into `grad`; intermediate
    /// gradients and the graph itself are released afterwards.
    public func backward(gradient seed: Tensor? = nil) {
        if let seed {
            precondition(seed.shape == shape, "backward: seed gradient \(describeShape(seed.shape)) for tensor \(describeShape(shape))")
        } else {
            precondition(count == 1, "backward: needs a seed gradient for a non-scalar tensor of shape \(describeShape(shape))")
        }
        guard requiresGrad else { return }
        let order = topologicalOrder()
        if let seed { accumulateGradient(seed) } else { accumulateGradient { $0[0] += 1 } }
        for node in order.reversed() {
            guard let closure = node.backwardClosure else { continue }
            if node.grad != nil { closure(node) }
            node.backwardClosure = nil
            node.parents = []
            node.grad = nil
        }
    }

    /// Nodes reachable from `self` through recorded ops, parents before children.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(node: Tensor, expanded: Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for parent in node.parents where !visited.contains(ObjectIdentifier(parent)) {
                stack.append((parent, false))
            }
        }
        return order
    }
}
