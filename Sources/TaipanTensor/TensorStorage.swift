// TensorStorage.swift — the float32 buffer behind a tensor: 64-byte aligned, released when the
// last tensor sharing it goes away, and counted so tests and benchmarks can read the live and
// peak bytes that tensors hold. Released buffers of large tensors wait in a small pool for the
// next tensor of the same size: a training step allocates the same shapes every time, and a
// fresh allocation of megabytes costs page faults on every first touch.
//
// Buffers of 4 MiB and more are aligned to 2 MiB and advised to the kernel as wanting
// transparent huge pages (madvise MADV_HUGEPAGE; Debian's default THP mode, "madvise", gives
// them only to memory that asks). Decoding streams every weight once per token, and the
// hardware prefetchers stop at 4 KiB page boundaries: on a 2-core AMD EPYC the 130M Mamba-2
// decoded about 2.4% faster in float32 (24.2 against 23.6 GB/s of weights, measured before this
// code with glibc's malloc.hugetlb tunable, which gives every large allocation huge pages).
// Where the kernel has THP off, the advice is ignored.

import Foundation

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
        pointer = (BufferPool.shared.take(bytes: bytes) ?? Self.allocate(bytes: bytes))
            .bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
        self.count = count
        AllocationCounter.shared.allocated(bytes)
    }

    static let hugePage = 2 << 20

    /// Fresh memory for `bytes`: 64-byte aligned, or for 4 MiB and more 2 MiB aligned and advised
    /// as wanting huge pages (before the first touch, so that the faults can map huge pages).
    private static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= 2 * hugePage else { return .allocate(byteCount: bytes, alignment: 64) }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: hugePage)
        _ = madvise(memory, bytes / hugePage * hugePage, MADV_HUGEPAGE)  // only advice: a refusal changes nothing
        return memory
    }

    deinit {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        AllocationCounter.shared.freed(bytes)
        if !BufferPool.shared.give(UnsafeMutableRawPointer(pointer), bytes: bytes) { pointer.deallocate() }
    }
}

/// Released buffers of at least 64 KiB, kept by size for reuse, at most 1 GiB in all; the
/// oldest go first when the pool is full.
///
/// At the end of a backward pass most of a step's activations are released at once. With 256
/// MiB the pool overflowed there and the next step faulted in fresh pages; with 1 GiB, on the
/// 2-core AMD EPYC (2026-12-03, `taipan bench train`, alternated runs), bench-small-mamba2
/// trained 0.4–1.9% faster with peak RSS 420 instead of 548–600 MiB (fewer fresh allocations,
/// less fragmentation), and bench-130m-mamba2 at MFU 0.65–0.67 instead of 0.63–0.65 with peak
/// RSS about 4% higher (3,399–3,546 against 3,273–3,427 MiB).
final class BufferPool: Sendable {
    static let shared = BufferPool()
    private static let smallest = 64 << 10, capacity = 1 << 30

    // Addresses as integers: the state crosses threads, raw pointers may not.
    private struct State {
        var buffers: [Int: [UInt]] = [:]
        var order: [(bytes: Int, address: UInt)] = []
        var total = 0
    }
    private let state = Locked(State())

    /// A pooled buffer of exactly `bytes`, if one is free.
    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= Self.smallest else { return nil }
        let address: UInt? = state.withLock { state in
            guard let address = state.buffers[bytes]?.popLast() else { return nil }
            state.total -= bytes
            if let index = state.order.firstIndex(where: { $0.address == address }) { state.order.remove(at: index) }
            return address
        }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    /// Keeps `pointer` for reuse; false when it is too small or too large to keep.
    func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= Self.smallest, bytes <= Self.capacity / 4 else { return false }
        let address = UInt(bitPattern: pointer)
        let evicted: [UInt] = state.withLock { state in
            var evicted: [UInt] = []
            while state.total + bytes > Self.capacity, !state.order.isEmpty {
                let oldest = state.order.removeFirst()
                state.buffers[oldest.bytes]?.removeAll { $0 == oldest.address }
                state.total -= oldest.bytes
                evicted.append(oldest.address)
            }
            state.buffers[bytes, default: []].append(address)
            state.order.append((bytes, address))
            state.total += bytes
            return evicted
        }
        for old in evicted { UnsafeMutableRawPointer(bitPattern: old)?.deallocate() }
        return true
    }
}

/// Live and peak bytes held by tensor storage, for memory tests and benchmarks.
public final class AllocationCounter: Sendable {
    /// The process-wide counter.
    public static let shared = AllocationCounter()

    private let state = Locked<(live: Int, peak: Int)>((0, 0))

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
