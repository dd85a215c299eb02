import Testing
import TaipanDistributed
import TaipanTensor
@testable import TaipanTrain

/// A pretend second rank: every sum adds `1` to each element, and the calls are recorded.
final class OnesFromAnotherRank: Communicator {
    var rank: Int { 0 }
    var size: Int { 2 }
    var localSize: Int { 2 }
    var floatCalls: [Int] = []
    var broadcasts: [Int] = []
    var gathered: [UInt64] = []

    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws(DistributedError) {
        floatCalls.append(count)
        for index in 0..<count { buffer[index] += 1 }
    }
    func allreduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws(DistributedError) {
        for index in 0..<count { buffer[index] += 1 }
    }
    func broadcast(_ buffer: UnsafeMutableRawPointer, byteCount: Int, root: Int) throws(DistributedError) { broadcasts.append(byteCount) }
    func allgather(_ value: UInt64) throws(DistributedError) -> [UInt64] { gathered.isEmpty ? [value, value] : [value] + gathered }
    func barrier() throws(DistributedError) {}
    func abort(code: Int32, message: String) -> Never { fatalError(message) }
    func finish() {}
}

@Suite struct GradientExchangeTests {
    @Test func gradientsAreSummedInBucketsAndComeBackInPlace() throws {
        let sizes = [3, 4, 5, 20, 2]
        let parameters = sizes.map { Tensor(zeros: [$0], requiresGrad: true) }
        for (index, parameter) in parameters.enumerated() where index != 2 {
            parameter.grad = try Tensor((0..<parameter.count).map { Float(index * 100 + $0) }, shape: [parameter.count])
        }
        let communicator = OnesFromAnotherRank()
        let exchange = GradientExchange(communicator: communicator, parameters: parameters, bucketElements: 10)
        try exchange.sumGradients()
        // 3 + 4 share a bucket; 5 would overflow it; 20 is alone and summed in place; then 2.
        #expect(communicator.floatCalls == [7, 5, 20, 2])
        for (index, parameter) in parameters.enumerated() {
            let expected = (0..<parameter.count).map { index == 2 ? Float(1) : Float(index * 100 + $0) + 1 }
            #expect(parameter.grad?.values == expected, "parameter \(index)")
        }
    }

    @Test func aJobOfOneExchangesNothing() throws {
        let parameter = Tensor(zeros: [3], requiresGrad: true)
        parameter.grad = try Tensor([1, 2, 3], shape: [3])
        try GradientExchange(communicator: SingleProcess(), parameters: [parameter]).sumGradients()
        #expect(parameter.grad?.values == [1, 2, 3])
        try GradientExchange.broadcastFromRoot([parameter], communicator: SingleProcess())
    }

    @Test func parametersAreBroadcastWhole() throws {
        let communicator = OnesFromAnotherRank()
        try GradientExchange.broadcastFromRoot([Tensor(zeros: [3]), Tensor(zeros: [2, 5])], communicator: communicator)
        #expect(communicator.broadcasts == [12, 40])
    }

    /// FNV-1a over the 32-bit patterns, worked by hand for 1.0 (0x3F800000) and -2.0 (0xC0000000).
    @Test func theChecksumIsFNV1aOverTheBitPatterns() throws {
        let prime: UInt64 = 0x0000_0100_0000_01b3
        var expected: UInt64 = 0xcbf2_9ce4_8422_2325
        for word: UInt64 in [0x3F80_0000, 0xC000_0000] { expected = (expected ^ word) &* prime }
        #expect(GradientExchange.checksum([try Tensor([1, -2], shape: [2])]) == expected)
        #expect(GradientExchange.checksum([try Tensor([1, -2], shape: [2])]) != GradientExchange.checksum([try Tensor([-2, 1], shape: [2])]))
    }

    @Test func ranksWhoseWeightsDifferStopTheRunNamingThem() throws {
        let weights = [try Tensor([1, 2], shape: [2])]
        let agreeing = OnesFromAnotherRank()
        try GradientExchange.checkAgreement(weights, communicator: agreeing, step: 5)
        let differing = OnesFromAnotherRank()
        differing.gathered = [0xABC]
        #expect {
            try GradientExchange.checkAgreement(weights, communicator: differing, step: 5)
        } throws: { error in
            "\(error)".contains("after step 5") && "\(error)".contains("rank 1: abc")
        }
    }
}
