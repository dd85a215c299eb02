// ParallelFor.swift — the one place Taipan's own kernels go parallel, and the thread setting
// shared with OpenBLAS.
//
// Work is cut into a fixed number of chunks that depends only on the problem size and the
// thread count, never on timing, so a reduction that sums per-chunk partials in chunk order
// gives bit-identical results run to run.

import CBLAS
import Dispatch
import Foundation
import Synchronization

/// The number of threads Taipan's kernels and OpenBLAS use. Defaults to all cores.
public enum Threads {
    /// Atomic: every kernel reads it, and a trainer sets it while other work may be running
    /// (ThreadSanitizer caught a test's trainer setting it under another test's kernels when it
    /// was a plain variable).
    private static let current = Atomic<Int>(ProcessInfo.processInfo.activeProcessorCount)

    /// The thread count in force.
    public static var count: Int { current.load(ordering: .relaxed) }

    /// Sets the thread count for Taipan's kernels and for OpenBLAS together.
    public static func set(_ count: Int) {
        precondition(count >= 1, "Threads.set: the thread count must be at least 1 (got \(count))")
        current.store(count, ordering: .relaxed)
        openblas_set_num_threads(Int32(count))
    }

    /// Runs `body` with OpenBLAS on one thread (then back to `count`): for callers that split
    /// products between their own threads, each calling OpenBLAS on its share.
    public static func withSingleThreadedBLAS<Value, Failure: Error>(_ body: () throws(Failure) -> Value) throws(Failure) -> Value {
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(count)) }
        return try body()
    }
}

/// Runs `body(chunk, range)` for `chunks` contiguous pieces of `0..<count`, in parallel when
/// there is more than one chunk. Piece boundaries depend only on `count` and `chunks`.
@inlinable
public func parallelChunks(
    count: Int, chunks: Int, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void
) {
    let chunks = max(1, min(chunks, count))
    if count == 0 { return }
    let base = count / chunks, extra = count % chunks
    if chunks == 1 {
        body(0, 0..<count)
        return
    }
    // Kernels capture raw pointers, which are not Sendable; each chunk touches only its own
    // range (or its own partial slot), which is what makes sharing them safe here.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * base + min(c, extra)
            shared.value(c, start..<(start + base + (c < extra ? 1 : 0)))
        }
    }
}

/// Carries a value the compiler cannot prove Sendable across `concurrentPerform`.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}

/// Runs `body(range)` over `0..<count` split across `Threads.count` threads, keeping each
/// piece at least `grain` items long so small jobs stay on one thread.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (_ range: Range<Int>) -> Void) {
    let chunks = min(Threads.count, max(1, count / max(grain, 1)))
    parallelChunks(count: count, chunks: chunks) { _, range in body(range) }
}
