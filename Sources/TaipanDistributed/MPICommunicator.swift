// MPICommunicator.swift — the communicator of a job started by an MPI launcher (Open MPI's
// `mpirun`, Slurm's `srun`): MPI_COMM_WORLD with errors returned rather than fatal, so a
// failed operation becomes a Swift error that names it.
//
// All calls come from the thread that created the communicator (MPI_THREAD_FUNNELED).
// Buffers longer than MPI's 32-bit counts are sent in pieces of at most 2^28 elements.

import CMPI
import Foundation

/// MPI_COMM_WORLD of the running job.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localSize: Int
    private let world: MPI_Comm
    private var finished = false

    /// Elements per MPI call: far below Int32.max, large enough to keep the calls few.
    static let pieceElements = 1 << 28

    /// Initialises MPI (once per process) and reads the job's shape.
    public init() throws(DistributedError) {
        var provided: Int32 = 0
        try Self.check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        world = taipan_mpi_comm_world()
        try Self.check(MPI_Comm_set_errhandler(world, taipan_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var value: Int32 = 0
        try Self.check(MPI_Comm_rank(world, &value), "MPI_Comm_rank")
        rank = Int(value)
        try Self.check(MPI_Comm_size(world, &value), "MPI_Comm_size")
        size = Int(value)
        // The ranks that share memory with this one: those of this host.
        var local: MPI_Comm? = nil
        try Self.check(
            MPI_Comm_split_type(world, taipan_mpi_comm_type_shared(), Int32(rank), taipan_mpi_info_null(), &local),
            "MPI_Comm_split_type")
        try Self.check(MPI_Comm_size(local, &value), "MPI_Comm_size")
        localSize = Int(value)
        MPI_Comm_free(&local)
    }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(DistributedError) {
        try inPieces(count) { (offset, length) throws(DistributedError) in
            try Self.check(
                MPI_Allreduce(taipan_mpi_in_place(), buffer + offset, length, taipan_mpi_float(), taipan_mpi_sum(), world),
                "MPI_Allreduce of \(count) floats")
        }
    }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws(DistributedError) {
        try inPieces(count) { (offset, length) throws(DistributedError) in
            try Self.check(
                MPI_Allreduce(taipan_mpi_in_place(), buffer + offset, length, taipan_mpi_double(), taipan_mpi_sum(), world),
                "MPI_Allreduce of \(count) doubles")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws(DistributedError) {
        try inPieces(byteCount) { (offset, length) throws(DistributedError) in
            try Self.check(
                MPI_Bcast(buffer + offset, length, taipan_mpi_byte(), Int32(root), world), "MPI_Bcast of \(byteCount) bytes")
        }
    }

    public func allgather(_ value: UInt64) throws(DistributedError) -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        let code = all.withUnsafeMutableBufferPointer { output in
            MPI_Allgather(&mine, 1, taipan_mpi_uint64(), output.baseAddress, 1, taipan_mpi_uint64(), world)
        }
        try Self.check(code, "MPI_Allgather")
        return all
    }

    public func barrier() throws(DistributedError) {
        try Self.check(MPI_Barrier(world), "MPI_Barrier")
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data(("rank \(rank): " + message + "\n").utf8))
        MPI_Abort(world, code)
        exit(code)
    }

    public func finish() {
        guard !finished else { return }
        finished = true
        MPI_Finalize()
    }

    /// Calls `body(offset, length)` over 0..<count in pieces MPI's Int32 counts can hold.
    private func inPieces(
        _ count: Int, _ body: (Int, Int32) throws(DistributedError) -> Void
    ) throws(DistributedError) {
        var offset = 0
        while offset < count {
            let length = min(Self.pieceElements, count - offset)
            try body(offset, Int32(length))
            offset += length
        }
    }

    /// Throws for a return code other than MPI_SUCCESS, with MPI's own description.
    private static func check(_ code: Int32, _ operation: String) throws(DistributedError) {
        guard code != taipan_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(taipan_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        let description = String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DistributedError("\(operation) failed: \(description) (MPI error \(code))")
    }
}
