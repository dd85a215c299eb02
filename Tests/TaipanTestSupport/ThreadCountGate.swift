// ThreadCountGate.swift — thread counts are process-wide (`Threads.set`, and OpenBLAS's, which
// decoding lowers to one while it runs), and Swift Testing runs suites side by side. Suites
// whose tests change them, or need them steady to be bit-identical, carry `.exclusiveThreads`:
// their tests then run one at a time among all such suites, in every test target.

import Testing

/// Runs each test of the suites that carry it alone among the others that do.
public struct ThreadCountGate: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Suites and whole parameterised tests pass through; each test case takes the gate.
        guard testCase != nil else { return try await function() }
        await Gate.shared.enter()
        do {
            try await function()
        } catch {
            await Gate.shared.leave()
            throw error
        }
        await Gate.shared.leave()
    }

    /// A first-come, first-served gate for one test case at a time.
    actor Gate {
        static let shared = Gate()
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func enter() async {
            guard busy else {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func leave() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }
}

extension Trait where Self == ThreadCountGate {
    /// Tests that set or depend on the process-wide thread counts: one at a time among them.
    public static var exclusiveThreads: Self { Self() }
}
