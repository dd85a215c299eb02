// UncheckedSendableBox.swift — carries values the compiler cannot prove Sendable (buffer
// pointers, mostly) into `DispatchQueue.concurrentPerform`, for work where each thread
// touches only its own slots.

/// A value shared with worker threads on the caller's promise that they never touch the same
/// memory (each writes its own indices of a buffer, say).
package struct UncheckedSendableBox<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
