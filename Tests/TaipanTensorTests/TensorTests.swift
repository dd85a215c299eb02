import Testing
@testable import TaipanTensor

@Suite struct TensorTests {
    @Test func creation() throws {
        #expect(Tensor(zeros: [2, 3]).values == [Float](repeating: 0, count: 6))
        #expect(Tensor(ones: [2]).values == [1, 1])
        #expect(Tensor(full: [1, 2], value: 7).values == [7, 7])
        #expect(Tensor(scalar: 3).shape == [] && Tensor(scalar: 3).item == 3)
        let t = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(t[1, 2] == 6 && t.rank == 2 && t.count == 6)
        #expect(throws: TensorError.shapeMismatch("Tensor: 5 values cannot fill shape (2, 3)")) {
            try Tensor([1, 2, 3, 4, 5], shape: [2, 3])
        }
    }

    @Test func storageIs64ByteAligned() {
        for size in [1, 3, 17, 1000] {
            #expect(UInt(bitPattern: Tensor(zeros: [size]).pointer) % 64 == 0)
        }
    }

    @Test func seededRandomTensorsRepeat() {
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        let a = Tensor(normal: [100], mean: 1, standardDeviation: 0.5, generator: &g1)
        let b = Tensor(normal: [100], mean: 1, standardDeviation: 0.5, generator: &g2)
        #expect(a.values == b.values)
        let u = Tensor(uniform: [1000], low: -2, high: 3, generator: &g1)
        #expect(u.values.allSatisfy { $0 >= -2 && $0 < 3 })
    }

    /// Counted per task (`measurePeak`), so that suites running beside this one do not
    /// disturb it: a tensor's bytes are held exactly as long as the tensor lives.
    @Test func liveBytesFollowTensorLifetimes() {
        let (_, oneAtATime) = AllocationCounter.shared.measurePeak {
            do {
                let first = Tensor(zeros: [1024])
                withExtendedLifetime(first) {}
            }
            let second = Tensor(zeros: [1024])
            withExtendedLifetime(second) {}
        }
        #expect(oneAtATime == 4096)
        let (_, together) = AllocationCounter.shared.measurePeak {
            let first = Tensor(zeros: [1024]), second = Tensor(zeros: [1024])
            withExtendedLifetime((first, second)) {}
        }
        #expect(together == 8192)
    }
}

@Suite struct AllocationCounterTests {
    @Test func measurePeakSeesOnlyThisTasksAllocations() {
        let (_, peak) = AllocationCounter.shared.measurePeak {
            let first = Tensor(zeros: [1 << 18])  // 1 MiB
            _ = first
            let second = Tensor(zeros: [1 << 16])  // 256 KiB, after the first is gone
            _ = second
        }
        #expect(peak >= 1 << 20 && peak < (1 << 20) + (1 << 18) + 4096)
    }
}
