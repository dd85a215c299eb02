// DistributedRun.swift — how the commands that can run under `mpirun` (train, data prepare,
// bench train) join and leave the job.

import Foundation
import TaipanDistributed

/// Runs `body` with this process's communicator (MPI when an MPI launcher started the
/// process, else a job of one) and leaves the job cleanly. An error on any rank of several
/// ends the whole job at once, so that no rank waits forever in a collective for it.
func runDistributed(_ body: (any Communicator) throws -> Void) throws {
    let communicator = try Communicators.start()
    do {
        try body(communicator)
    } catch {
        if communicator.size > 1 { communicator.abort(code: 1, message: "error: \(error)") }
        throw error
    }
    communicator.finish()
}
