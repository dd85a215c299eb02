// GradientExchange.swift — data parallelism's three exchanges between ranks: the parameters
// broadcast from rank 0 at the start, the gradients summed after every backward pass, and a
// checksum of the weights that shows every rank still holds the same model.
//
// Gradients go in flat buckets of at most `bucketElements` floats, so a model of hundreds of
// small tensors makes a few large allreduce calls instead of hundreds of latency-bound ones;
// a tensor larger than a bucket is summed in place. Each rank's loss is already divided by
// the targets of the whole global batch, so the sum is the global mean's gradient.

import Dispatch
import TaipanDistributed
import TaipanTensor

/// Sums gradients over the ranks of a job.
final class GradientExchange {
    let communicator: any Communicator
    /// The parameters whose gradients are exchanged, in a fixed order (the same on all ranks).
    let parameters: [Tensor]
    /// Indices into `parameters`, grouped into buckets of at most `bucketElements` floats; a
    /// bucket of one tensor larger than that is summed in place.
    private let buckets: [[Int]]
    /// Where a shared bucket's gradients are gathered: (the largest shared bucket,).
    private let staging: UnsafeMutablePointer<Float>
    /// Seconds spent exchanging, summed since the last `takeSeconds()`.
    private(set) var seconds = 0.0

    /// 4 Mi floats (16 MiB): a few calls even for the 130M model, and large enough that the
    /// bandwidth, not the per-call latency, sets their time.
    static let bucketElements = 1 << 22

    init(communicator: any Communicator, parameters: [Tensor], bucketElements: Int = GradientExchange.bucketElements) {
        self.communicator = communicator
        self.parameters = parameters
        var buckets: [[Int]] = [], current: [Int] = [], filled = 0
        for (index, parameter) in parameters.enumerated() {
            if filled + parameter.count > bucketElements && !current.isEmpty {
                buckets.append(current)
                current = []
                filled = 0
            }
            current.append(index)
            filled += parameter.count
        }
        if !current.isEmpty { buckets.append(current) }
        self.buckets = buckets
        let largestShared = buckets.filter { $0.count > 1 }.map { $0.reduce(0) { $0 + parameters[$1].count } }.max() ?? 0
        staging = .allocate(capacity: communicator.size > 1 ? largestShared : 0)
    }

    deinit { staging.deallocate() }

    /// Replaces every parameter's gradient by its sum over the ranks (a parameter without a
    /// gradient on this rank counts as zeros).
    func sumGradients() throws {
        guard communicator.size > 1 else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        for parameter in parameters where parameter.grad == nil {
            parameter.grad = Tensor(zeros: parameter.shape)
        }
        for bucket in buckets {
            let gradients = bucket.compactMap { parameters[$0].grad }
            if gradients.count == 1 {
                try communicator.allreduceSum(gradients[0].pointer, count: gradients[0].count)
                continue
            }
            var offset = 0
            for gradient in gradients {
                (staging + offset).update(from: gradient.pointer, count: gradient.count)
                offset += gradient.count
            }
            try communicator.allreduceSum(staging, count: offset)
            offset = 0
            for gradient in gradients {
                gradient.pointer.update(from: staging + offset, count: gradient.count)
                offset += gradient.count
            }
        }
    }

    /// Returns the seconds spent exchanging since the last call, and starts counting again.
    func takeSeconds() -> Double {
        defer { seconds = 0 }
        return seconds
    }

    /// Copies rank 0's values of `tensors` to every other rank.
    static func broadcastFromRoot(_ tensors: [Tensor], communicator: any Communicator) throws {
        guard communicator.size > 1 else { return }
        for tensor in tensors {
            try communicator.broadcast(tensor.pointer, byteCount: tensor.count * MemoryLayout<Float>.stride, root: 0)
        }
    }

    /// A 64-bit FNV-1a hash of the bit patterns of `tensors`: equal on two ranks exactly when
    /// (barring a collision) their weights are bit-identical.
    static func checksum(_ tensors: [Tensor]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for tensor in tensors {
            let words = UnsafeRawPointer(tensor.pointer).assumingMemoryBound(to: UInt32.self)
            for index in 0..<tensor.count {
                hash = (hash ^ UInt64(words[index])) &* 0x0000_0100_0000_01b3
            }
        }
        return hash
    }

    /// Throws when the ranks' weights differ, naming the step and each rank's checksum.
    static func checkAgreement(_ tensors: [Tensor], communicator: any Communicator, step: Int) throws {
        guard communicator.size > 1 else { return }
        let sums = try communicator.allgather(checksum(tensors))
        guard Set(sums).count == 1 else {
            let listed = sums.enumerated().map { "rank \($0.offset): \(String($0.element, radix: 16))" }.joined(separator: ", ")
            throw TrainError.diverged(
                "the ranks' weights differ after step \(step) (checksums \(listed)); the ranks no longer train the same model. The last checkpoint was written before this; resume from it, and report this if it happens again")
        }
    }
}
