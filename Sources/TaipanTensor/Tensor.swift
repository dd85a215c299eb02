// Tensor.swift — the float32 tensor: contiguous row-major storage, a shape, and for results
// of operations, the parents and the closure that carries gradients back to them.
//
// Every op writes a new contiguous tensor except `reshaped`, which shares storage. Token ids
// travel as `[Int32]`, never as float tensors.

/// A contiguous row-major float32 tensor that can take part in reverse-mode autodiff.
public final class Tensor {
    /// The buffer; shared with reshaped views of this tensor.
    public let storage: TensorStorage
    /// The size of each dimension, outermost first.
    public let shape: [Int]
    /// The number of elements (the product of `shape`).
    public let count: Int
    /// Whether gradients flow to this tensor. Set it on parameters (leaves); op results
    /// inherit it from their inputs.
    public var requiresGrad: Bool
    /// The accumulated gradient, same shape as the tensor; `nil` until a backward pass
    /// reaches it. Accumulates (`+=`) across backward passes until `zeroGrad()`.
    public var grad: Tensor?

    /// The op that produced this tensor (for error messages and debugging).
    public let op: String
    /// Inputs that need a gradient; released after the backward pass.
    var parents: [Tensor] = []
    /// Adds this tensor's gradient into its parents' gradients; released after the backward pass.
    var backwardClosure: ((Tensor) -> Void)?

    /// Wraps existing storage. `shape` must describe exactly `storage.count` elements.
    public init(storage: TensorStorage, shape: [Int], requiresGrad: Bool = false, op: String = "leaf") {
        let count = shape.reduce(1, *)
        precondition(
            shape.allSatisfy { $0 >= 0 } && count == storage.count,
            "Tensor: shape \(describeShape(shape)) does not describe \(storage.count) elements")
        self.storage = storage
        self.shape = shape
        self.count = count
        self.requiresGrad = requiresGrad
        self.op = op
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor(zeros:): negative size in \(describeShape(shape))")
        self.init(storage: TensorStorage(count: shape.reduce(1, *)), shape: shape, requiresGrad: requiresGrad)
    }

    /// A tensor whose contents are undefined, for op outputs that are overwritten entirely.
    public convenience init(uninitialized shape: [Int]) {
        self.init(storage: TensorStorage(count: shape.reduce(1, *), zeroed: false), shape: shape)
    }

    /// A tensor filled with `value`.
    public convenience init(full shape: [Int], value: Float, requiresGrad: Bool = false) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        storage.pointer.update(repeating: value, count: count)
    }

    /// A tensor of ones.
    public convenience init(ones shape: [Int], requiresGrad: Bool = false) {
        self.init(full: shape, value: 1, requiresGrad: requiresGrad)
    }

    /// A tensor holding `values` in row-major order; throws if the count does not match `shape`.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) throws(TensorError) {
        guard shape.allSatisfy({ $0 >= 0 }), values.count == shape.reduce(1, *) else {
            throw .shapeMismatch(
                "Tensor: \(values.count) values cannot fill shape \(describeShape(shape))")
        }
        self.init(zeros: shape, requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { storage.pointer.update(from: base, count: values.count) }
        }
    }

    /// A scalar (shape `[]`).
    public convenience init(scalar value: Float, requiresGrad: Bool = false) {
        self.init(full: [], value: value, requiresGrad: requiresGrad)
    }

    /// Uniform samples in [low, high) from `generator`.
    public convenience init(
        uniform shape: [Int], low: Float = 0, high: Float = 1,
        generator: inout SeededGenerator, requiresGrad: Bool = false
    ) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        let p = storage.pointer
        for i in 0..<count { p[i] = low + (high - low) * generator.nextUniform() }
    }

    /// Normal samples with the given mean and standard deviation from `generator`.
    public convenience init(
        normal shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        generator: inout SeededGenerator, requiresGrad: Bool = false
    ) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        let p = storage.pointer
        for i in 0..<count { p[i] = mean + standardDeviation * generator.nextNormal() }
    }

    /// The first element of the buffer.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order.
    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(describeShape(shape)) has \(count) elements, not 1")
        return pointer[0]
    }

    /// The element at a full multi-index.
    public subscript(_ index: Int...) -> Float {
        precondition(index.count == rank, "subscript: \(index.count) indices for a rank-\(rank) tensor")
        var offset = 0
        for (i, size) in zip(index, shape) {
            precondition(i >= 0 && i < size, "subscript: index \(index) outside shape \(describeShape(shape))")
            offset = offset * size + i
        }
        return pointer[offset]
    }

    /// A copy that shares nothing and records no graph.
    public func copy() -> Tensor {
        let result = Tensor(zeros: shape)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    /// The same values with no history: gradients stop here.
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// Forgets the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(describeShape(shape))[\(shown)\(count > 8 ? ", …" : "")]"
    }
}
