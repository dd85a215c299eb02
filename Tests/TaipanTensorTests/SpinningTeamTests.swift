import Foundation
import Synchronization
import Testing
@testable import TaipanTensor

@Suite struct SpinningTeamTests {
    @Test(arguments: [1, 2, 3])
    func runCallsEveryMemberOnce(size: Int) {
        let team = SpinningTeam(size: size)
        let calls = Locked([Int](repeating: 0, count: size))
        for _ in 0..<1000 { team.run { member in calls.withLock { $0[member] += 1 } } }
        #expect(calls.withLock { $0 } == [Int](repeating: 1000, count: size))
    }

    @Test(arguments: [0, 1, 2, 7, 1001])
    func chunksCoverTheRangeExactlyOnce(count: Int) {
        for size in [1, 2, 3] {
            let team = SpinningTeam(size: size)
            let hits = Locked([Int](repeating: 0, count: count))
            team.forEachChunk(count: count) { range in hits.withLock { for i in range { $0[i] += 1 } } }
            #expect(hits.withLock { $0.allSatisfy { $0 == 1 } }, "size \(size)")
        }
    }

    @Test func workWrittenByHelpersIsVisibleAfterRun() {
        let team = SpinningTeam(size: 2)
        let buffer = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { buffer.deallocate() }
        for round in 0..<20_000 {
            team.run { member in buffer[member] = round + member }
            #expect(buffer[0] == round && buffer[1] == round + 1)
            if buffer[1] != round + 1 { break }
        }
    }

    @Test func anIdleTeamStillAnswers() {
        let team = SpinningTeam(size: 2)
        let total = Atomic<Int>(0)
        team.run { _ in total.add(1, ordering: .relaxed) }
        usleep(5_000)  // long enough for the helper to nap
        team.run { _ in total.add(1, ordering: .relaxed) }
        #expect(total.load(ordering: .relaxed) == 4)
    }
}
