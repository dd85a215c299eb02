// DataError.swift — the errors of the data pipeline. Every case names the file (and line,
// where there is one) so a user can find the bad input.

/// Errors raised while reading text shards, writing or reading token shards, and batching.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// A file could not be opened, read, written or renamed.
    case io(path: String, reason: String)
    /// A file's contents are not what its format requires (truncated zstd, bad shard header…).
    case corrupt(path: String, reason: String)
    /// A record of a text shard that cannot be used, under the `.fail` policy.
    case badRecord(path: String, line: Int, reason: BadRecordReason)
    /// An option or argument that cannot be used.
    case invalidArgument(String)
    /// The data is too small for what was asked of it (e.g. one batch of windows).
    case notEnoughData(String)
    /// A token directory already holds shards of other data (`difference` says how).
    case preparedFromOtherData(directory: String, difference: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "\(path): \(reason)"
        case .corrupt(let path, let reason): return "\(path): \(reason)"
        case .badRecord(let path, let line, let reason): return "\(path):\(line): \(reason.message)"
        case .invalidArgument(let message): return message
        case .notEnoughData(let message): return message
        case .preparedFromOtherData(let directory, let difference):
            return "\(directory) already holds token shards of other data (\(difference)); remove it or choose another --out"
        }
    }
}

#if canImport(Glibc)
import Glibc

/// The C library's message for the current `errno`.
func errnoMessage() -> String { String(cString: strerror(errno)) }
#endif
