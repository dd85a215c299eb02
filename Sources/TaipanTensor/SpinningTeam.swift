// SpinningTeam.swift — threads kept awake between parallel regions, for work made of many short
// regions in a row: decoding one token is about 120 matrix-vector products of 5–500 µs each,
// and waking a sleeping Dispatch worker for each of them costs about as much as the work (on
// these 2-core machines two threads through `concurrentPerform` decoded slower than one).
//
// Helpers spin on an epoch counter while work keeps coming (yielding the core every few hundred
// polls, so that an oversubscribed machine still makes progress); after about a millisecond
// without work they nap in 200 µs sleeps, so an idle team costs almost nothing. Everything else
// goes through `parallelChunks` on Dispatch.

import Foundation
import Synchronization

/// A fixed team of threads (the caller plus `size − 1` helpers) that run a body together.
public final class SpinningTeam: @unchecked Sendable {
    /// Threads taking part in `run`, the caller included.
    public let size: Int
    private let shared: Shared

    /// What the caller and the helpers share: the published job and the counters.
    private final class Shared: @unchecked Sendable {
        let epoch = Atomic<Int>(0)  // bumped to publish a job
        let pending = Atomic<Int>(0)  // helpers still inside the job
        let stopping = Atomic<Bool>(false)
        /// The job's body; written by the caller before the epoch moves, read by helpers after.
        nonisolated(unsafe) var body: ((Int) -> Void)? = nil
    }

    /// A team of `size` threads (at least 1; 1 runs everything on the caller).
    public init(size: Int = Threads.count) {
        precondition(size >= 1, "SpinningTeam: the size must be at least 1 (got \(size))")
        self.size = size
        shared = Shared()
        for member in 1..<Swift.max(size, 1) {
            let shared = self.shared
            let thread = Thread { Self.helperLoop(shared, member: member) }
            thread.name = "taipan-team-\(member)"
            thread.start()
        }
    }

    deinit { shared.stopping.store(true, ordering: .releasing) }

    /// Calls `body(member)` once for every member 0..<size (the caller is member 0) and returns
    /// when all have finished. Not reentrant, and one caller at a time.
    public func run(_ body: (_ member: Int) -> Void) {
        if size == 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            shared.body = body
            shared.pending.store(size - 1, ordering: .relaxed)
            shared.epoch.add(1, ordering: .releasing)
            body(0)
            var spins = 0
            while shared.pending.load(ordering: .acquiring) != 0 {
                // A helper that lost its core (another process, or more threads than cores)
                // needs it back: give it up after a short spin.
                spins += 1
                if spins >= 256 { sched_yield() }
            }
            shared.body = nil
        }
    }

    /// Runs `body(range)` on contiguous pieces of 0..<count, one per member (fixed boundaries).
    public func forEachChunk(count: Int, _ body: (_ range: Range<Int>) -> Void) {
        let chunks = Swift.min(size, Swift.max(count, 1))
        let base = count / chunks, extra = count % chunks
        run { member in
            guard member < chunks else { return }
            let start = member * base + Swift.min(member, extra)
            body(start..<(start + base + (member < extra ? 1 : 0)))
        }
    }

    private static func helperLoop(_ shared: Shared, member: Int) {
        // The epoch starts at 0: a job published before this thread got going is still seen.
        var seen = 0
        var idleSince = DispatchTime.now().uptimeNanoseconds
        var spins = 0
        while !shared.stopping.load(ordering: .acquiring) {
            let epoch = shared.epoch.load(ordering: .acquiring)
            if epoch != seen {
                seen = epoch
                shared.body?(member)
                shared.pending.subtract(1, ordering: .releasing)
                idleSince = DispatchTime.now().uptimeNanoseconds
                spins = 0
                continue
            }
            spins += 1
            if spins % 256 == 0 {
                if DispatchTime.now().uptimeNanoseconds - idleSince > 1_000_000 { usleep(200) } else { sched_yield() }
            }
        }
    }
}

/// Runs `body` over pieces of `0..<rows`, the rows of a matrix-vector product with `columns`
/// columns: all on the caller when the matrix is small (under 2^16 weights), else shared over
/// `team`, or over `Threads.count` Dispatch threads when there is no team. Every row is in
/// exactly one piece, so a product that sums each row on one thread does not depend on the
/// thread count.
public func forEachRowPiece(rows: Int, columns: Int, team: SpinningTeam?, _ body: (_ rows: Range<Int>) -> Void) {
    if rows * columns < 1 << 16 {
        body(0..<rows)
    } else if let team {
        team.forEachChunk(count: rows, body)
    } else {
        parallelChunks(count: rows, chunks: Threads.count) { _, range in body(range) }
    }
}
