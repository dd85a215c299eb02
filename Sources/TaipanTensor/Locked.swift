// Locked.swift — a value that threads share behind a lock.
//
// The standard library's `Synchronization.Mutex` does the same job, but ThreadSanitizer cannot
// see its locking on Linux (Swift 6.3.1): two threads adding to an array under
// `Mutex.withLock` are reported as a "Swift access race" on every run, and so would be every
// buffer `BufferPool` hands from one thread to another, burying real reports of
// `make sanitize-thread`. `NSLock` is a pthread mutex, whose lock and unlock ThreadSanitizer
// intercepts, so it sees what the lock orders. Taking it costs tens of nanoseconds, which
// nothing here does per element.

import Foundation

/// A value guarded by a lock; `withLock` gives one thread at a time access to it.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access to the value and returns what it returns.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
