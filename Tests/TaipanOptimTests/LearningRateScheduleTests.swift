import Testing
@testable import TaipanOptim

@Suite struct LearningRateScheduleTests {
    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

    @Test func cosineWarmsUpThenDecaysToTheFloor() {
        let s = LearningRateSchedule(kind: .cosine, peak: 1, floor: 0.1, warmupSteps: 10, totalSteps: 110)
        #expect(Self.close(s.rate(at: 0), 0.1) && Self.close(s.rate(at: 4), 0.5) && Self.close(s.rate(at: 9), 1))
        #expect(Self.close(s.rate(at: 10), 1))
        #expect(Self.close(s.rate(at: 60), 0.55))  // halfway: 0.1 + 0.5·(1 + cos(π/2))·0.9
        #expect(Self.close(s.rate(at: 110), 0.1) && Self.close(s.rate(at: 500), 0.1))
    }

    @Test func constantAndWarmupStableDecay() {
        let constant = LearningRateSchedule(kind: .constant, peak: 3e-4, floor: 0, warmupSteps: 2, totalSteps: 100)
        #expect(Self.close(constant.rate(at: 0), 1.5e-4) && Self.close(constant.rate(at: 99), 3e-4))
        let wsd = LearningRateSchedule(kind: .wsd, peak: 1, floor: 0.1, warmupSteps: 5, totalSteps: 100, decayFraction: 0.2)
        #expect(Self.close(wsd.rate(at: 50), 1) && Self.close(wsd.rate(at: 79), 1))
        #expect(Self.close(wsd.rate(at: 89), 0.55))  // 10 of 20 decay steps done
        #expect(Self.close(wsd.rate(at: 99), 0.1))
    }
}
