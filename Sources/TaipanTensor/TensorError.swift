// TensorError.swift — the errors tensor operations raise for bad shapes or arguments.

/// An error raised by a tensor operation; the message names the op and the shapes at fault.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// Shapes that do not fit together, e.g. `matmul: (4, 3) × (5, 2): inner sizes 3 and 5 differ`.
    case shapeMismatch(String)
    /// An argument out of range or otherwise invalid.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let message), .invalidArgument(let message): return message
        }
    }
}

/// Formats a shape the way error messages print it: `(4, 3)`.
public func describeShape(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
