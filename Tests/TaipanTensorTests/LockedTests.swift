import Dispatch
import Foundation
import Testing
@testable import TaipanTensor

@Suite struct LockedTests {
    /// Threads that read the value, yield the processor and then write what they read plus one
    /// lose no update under the lock: the total is exact. Without it, another thread reads the
    /// same value during the yield and one of the two increments is lost (or Swift's
    /// exclusivity check stops the process), which is how this test was shown to fail.
    @Test func updatesUnderTheLockAreNeverLost() {
        let total = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<2_000 {
                total.withLock { value in
                    let seen = value
                    sched_yield()
                    value = seen + 1
                }
            }
        }
        #expect(total.withLock { $0 } == 8_000)
    }

    @Test func withLockReturnsWhatTheBodyReturnsAndRethrows() {
        struct Refused: Error {}
        let value = Locked(41)
        #expect(value.withLock { value -> Int in value += 1; return value } == 42)
        #expect(throws: Refused.self) { try value.withLock { _ in throw Refused() } }
        #expect(value.withLock { $0 } == 42)
    }
}
