import Dispatch
import Testing
@testable import TaipanTensor

@Suite struct AutodiffTests {
    @Test func gradientsAccumulateAcrossBackwardCallsUntilZeroed() throws {
        let x = try Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad?.values == [5, 5, 5])
        x.zeroGrad()
        (x * x).sum().backward()
        #expect(x.grad?.values == [2, 4, 6])
    }

    @Test func aTensorUsedTwiceGetsBothContributions() throws {
        let x = try Tensor([3], shape: [1], requiresGrad: true)
        let y = x * 4
        (y + y * x).sum().backward()  // d/dx (4x + 4x²) = 4 + 8x = 28
        #expect(x.grad?.values == [28])
    }

    @Test func nothingIsRecordedWithoutGradientsOrForConstants() throws {
        let x = try Tensor([1, 2], shape: [2], requiresGrad: true)
        let c = try Tensor([3, 4], shape: [2])
        let constant = c * c + 1
        #expect(!constant.requiresGrad && constant.parents.isEmpty)
        let unrecorded = withoutGradients { x * x }
        #expect(!unrecorded.requiresGrad && unrecorded.parents.isEmpty && unrecorded.backwardClosure == nil)
        #expect(GradientMode.isEnabled)
    }

    @Test func graphIsReleasedAfterBackward() throws {
        let x = try Tensor([1, 2], shape: [2], requiresGrad: true)
        let hidden = x.exp()
        let loss = (hidden * x).sum()
        weak var weakHidden = hidden
        loss.backward()
        #expect(loss.parents.isEmpty && loss.backwardClosure == nil)
        #expect(hidden.parents.isEmpty && hidden.grad == nil)
        _ = consume hidden
        #expect(weakHidden == nil)
    }

    @Test func seededBackwardOnANonScalar() throws {
        let x = try Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        (x * x).backward(gradient: try Tensor([1, 10, 100], shape: [3]))
        #expect(x.grad?.values == [2, 40, 600])
    }

    @Test func inputsThatNeedNoGradientGetNone() throws {
        let x = try Tensor([1, 2], shape: [2], requiresGrad: true)
        let c = try Tensor([3, 4], shape: [2])
        (x * c).sum().backward()
        #expect(x.grad?.values == [3, 4])
        #expect(c.grad == nil)
    }

    @Test func withoutGradientsOnAnotherThreadLeavesThisOneRecording() throws {
        let entered = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            withoutGradients {
                entered.signal()
                done.wait()
            }
            finished.signal()
        }
        entered.wait()
        let x = try Tensor([1, 2], shape: [2], requiresGrad: true)
        let y = x * x
        done.signal()
        finished.wait()
        #expect(y.requiresGrad && !y.parents.isEmpty)
    }
}
