// Communicator.swift — what data-parallel training needs from the processes of a job: who am
// I (rank, size, and how many ranks share this host), sum float buffers across ranks,
// broadcast from one rank, gather one number from each, and wait for everyone.
//
// Two implementations: `SingleProcess` (a job of one, every operation a no-op) and
// `MPICommunicator` (Open MPI, when the process was started by `mpirun` or `srun`).
// `Communicator.start()` picks the one that fits how the process was launched, so
// `taipan train` without `mpirun` never touches MPI.

import Foundation

/// A failed collective operation or an MPI set-up problem.
public struct DistributedError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The processes of one job and the collective operations between them. Every rank must
/// call the same operations in the same order with the same sizes.
public protocol Communicator: AnyObject {
    /// This process's index in the job, 0 ..< size.
    var rank: Int { get }
    /// The number of processes in the job.
    var size: Int { get }
    /// How many processes of the job run on this host (threads per rank are cores ÷ this).
    var localSize: Int { get }

    /// Replaces every rank's `count` floats at `buffer` by their sum over all ranks; every
    /// rank gets bit-identical results.
    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(DistributedError)
    /// Replaces every rank's `count` doubles at `buffer` by their sum over all ranks.
    func allreduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws(DistributedError)
    /// Copies `byteCount` bytes at `buffer` on rank `root` to every other rank's `buffer`.
    func broadcast(_ buffer: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws(DistributedError)
    /// Every rank's `value`, in rank order.
    func allgather(_ value: UInt64) throws(DistributedError) -> [UInt64]
    /// Returns once every rank has called it.
    func barrier() throws(DistributedError)
    /// Ends the whole job at once (every rank) with `code`, after `message` on this rank's
    /// standard error.
    func abort(code: Int32, message: String) -> Never
    /// Leaves the job cleanly; call once, at the end, on every rank.
    func finish()
}

extension Communicator {
    /// True on the rank that logs, evaluates and writes checkpoints.
    public var isRoot: Bool { rank == 0 }

    /// Broadcasts an array of floats from `root` in place.
    public func broadcast(_ values: inout [Float], root: Int) throws(DistributedError) {
        let byteCount = values.count * MemoryLayout<Float>.stride
        try withCapturedError { failure in
            values.withUnsafeMutableBytes { bytes in
                guard let base = bytes.baseAddress else { return }
                failure { () throws(DistributedError) in try broadcast(base, byteCount: byteCount, root: root) }
            }
        }
    }

    /// `value` as `root` has it.
    public func broadcast(_ value: Int, root: Int) throws(DistributedError) -> Int {
        var copy = Int64(value)
        try withCapturedError { failure in
            withUnsafeMutableBytes(of: &copy) { bytes in
                failure { () throws(DistributedError) in try broadcast(bytes.baseAddress!, byteCount: bytes.count, root: root) }
            }
        }
        return Int(copy)
    }

    /// The sum over all ranks of each element of `values`.
    public func allreduceSum(_ values: [Double]) throws(DistributedError) -> [Double] {
        var copy = values
        let count = copy.count
        try withCapturedError { failure in
            copy.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                failure { () throws(DistributedError) in try allreduceSum(base, count: count) }
            }
        }
        return copy
    }
}

/// Runs `body`, handing it a function that runs an operation and keeps its error; throws that
/// error after `body` returns. Lets typed errors cross the standard library's `rethrows`
/// buffer accessors.
func withCapturedError(
    _ body: (_ attempt: (() throws(DistributedError) -> Void) -> Void) -> Void
) throws(DistributedError) {
    var failure: DistributedError?
    body { operation in
        do throws(DistributedError) { try operation() } catch { failure = error }
    }
    if let failure { throw failure }
}

/// Picks the communicator for how this process was launched.
public enum Communicators {
    /// The MPI communicator when an MPI launcher (`mpirun`, `mpiexec`, Slurm's `srun` with
    /// PMIx/PMI2) started this process, else a job of one.
    public static func start() throws(DistributedError) -> any Communicator {
        guard launchedByMPI(ProcessInfo.processInfo.environment) else { return SingleProcess() }
        return try MPICommunicator()
    }

    /// Whether `environment` holds the variables MPI launchers set for their processes.
    static func launchedByMPI(_ environment: [String: String]) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }
}

/// A job of one process: every collective operation leaves its data as it is.
public final class SingleProcess: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localSize: Int { 1 }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(DistributedError) {}
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws(DistributedError) {}
    public func broadcast(_ buffer: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws(DistributedError) {}
    public func allgather(_ value: UInt64) throws(DistributedError) -> [UInt64] { [value] }
    public func barrier() throws(DistributedError) {}

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }

    public func finish() {}
}
