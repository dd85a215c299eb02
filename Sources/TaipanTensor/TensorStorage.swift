// TensorStorage.swift — the float32 buffer behind a tensor: 64-byte aligned, freed when the
// last tensor sharing it goes away, and counted so tests and benchmarks can read the live and
// peak bytes that tensors hold.

import Synchronization

/// A 64-byte aligned float32 buffer, shared by a tensor and its reshaped views.
public final class TensorStorage: @unchecked Sendable {
    /// The first element; valid for `count` floats.
    public let pointer: UnsafeMutablePointer<Float>
    /// The number of floats held.
    public let count: Int

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (for outputs that an op
    /// overwrites entirely).
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
        self.count = count
        AllocationCounter.shared.allocated(bytes)
    }

    deinit {
        AllocationCounter.shared.freed(max(count, 1) * MemoryLayout<Float>.stride)
        pointer.deallocate()
    }
}

/// Live and peak bytes held by tensor storage, for memory tests and benchmarks.
public final class AllocationCounter: Sendable {
    /// The process-wide counter.
    public static let shared = AllocationCounter()

    private let state = Mutex<(live: Int, peak: Int)>((0, 0))

    /// Bytes held by tensor storage right now.
    public var liveBytes: Int { state.withLock { $0.live } }
    /// The most bytes held at once since the last `resetPeak()`.
    public var peakBytes: Int { state.withLock { $0.peak } }

    /// Starts a new peak measurement from the bytes live now.
    public func resetPeak() { state.withLock { $0.peak = $0.live } }

    /// Records memory that a kernel allocates outside tensor storage (scratch buffers).
    public func allocated(_ bytes: Int) {
        state.withLock {
            $0.live += bytes
            $0.peak = max($0.peak, $0.live)
        }
        AllocationScope.current?.add(bytes)
    }

    /// Records the release of memory recorded with `allocated(_:)`.
    public func freed(_ bytes: Int) {
        state.withLock { $0.live -= bytes }
        AllocationScope.current?.add(-bytes)
    }

    /// Runs `body` and returns its result with the most bytes that `body` itself held at once
    /// (allocations made by this task only, so work running beside it does not count).
    public func measurePeak<Value, Failure: Error>(_ body: () throws(Failure) -> Value) throws(Failure) -> (result: Value, peakBytes: Int) {
        let scope = AllocationScope()
        let outcome = AllocationScope.$current.withValue(scope) { Result { () throws(Failure) -> Value in try body() } }
        return (try outcome.get(), scope.peak)
    }
}

/// Bytes allocated and freed by one task inside `AllocationCounter.measurePeak`.
final class AllocationScope: @unchecked Sendable {
    @TaskLocal static var current: AllocationScope?

    // Touched only by the task that owns the scope.
    private(set) var live = 0, peak = 0

    func add(_ bytes: Int) {
        live += bytes
        peak = max(peak, live)
    }
}
