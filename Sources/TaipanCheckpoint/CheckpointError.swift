// CheckpointError.swift — the errors reading and writing checkpoint files raise; each one
// names the file, and the tensor or key, at fault.

/// An error reading or writing a checkpoint file.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened, mapped, written, synced or renamed.
    case io(path: String, message: String)
    /// The file's header (length or JSON) is malformed before any tensor is involved.
    case invalidHeader(path: String, message: String)
    /// One tensor's header entry or contents are wrong.
    case invalidTensor(path: String, tensor: String, message: String)
    /// A tensor asked for is not in the file.
    case missingTensor(path: String, tensor: String)
    /// A sharded checkpoint's index is wrong; `shard` and `tensor` name the culprits if known.
    case invalidIndex(path: String, shard: String?, tensor: String?, message: String)
    /// A model `config.json` key is missing, of the wrong type, unknown or inconsistent.
    case invalidConfig(path: String, key: String, message: String)

    public var description: String {
        switch self {
        case .io(let path, let message), .invalidHeader(let path, let message):
            return "\(path): \(message)"
        case .invalidTensor(let path, let tensor, let message):
            return "\(path): tensor \"\(tensor)\": \(message)"
        case .missingTensor(let path, let tensor):
            return "\(path): no tensor named \"\(tensor)\""
        case .invalidIndex(let path, let shard, let tensor, let message):
            let shardPart = shard.map { "shard \"\($0)\": " } ?? ""
            let tensorPart = tensor.map { "tensor \"\($0)\": " } ?? ""
            return "\(path): \(shardPart)\(tensorPart)\(message)"
        case .invalidConfig(let path, let key, let message):
            return "\(path): key \"\(key)\": \(message)"
        }
    }
}
