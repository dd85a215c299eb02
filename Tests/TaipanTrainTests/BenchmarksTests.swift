import Testing
@testable import TaipanTrain

/// Hands out the given measurements in turn (the last one again when they run out) and counts
/// the calls.
final class Measurements {
    private var values: [Double]
    private(set) var calls = 0
    init(_ values: Double...) { self.values = values }
    func next() -> Double {
        calls += 1
        return values.count > 1 ? values.removeFirst() : values[0]
    }
}

@Suite struct BenchmarksTests {
    @Test func aLowFirstMeasurementIsTakenAgainWhenTrainingOutrunsIt() {
        // Measured at 10 GFLOP/s while the cores were busy; training then reaches 20.
        let sgemm = Measurements(10e9, 50e9)
        var yardstick = MatmulYardstick(ranks: 1, measure: sgemm.next)
        #expect(yardstick.utilisation(achievedFlops: 20e9) == 0.4)
        #expect(yardstick.peak == 50e9)
        #expect(sgemm.calls == 2)
        // Below the new peak nothing more is measured.
        #expect(yardstick.utilisation(achievedFlops: 25e9) == 0.5)
        #expect(sgemm.calls == 2)
    }

    @Test func theYardstickOfAJobIsEveryRanksSgemm() {
        let sgemm = Measurements(10e9)
        var yardstick = MatmulYardstick(ranks: 4, measure: sgemm.next)
        #expect(yardstick.peak == 40e9)
        #expect(yardstick.utilisation(achievedFlops: 30e9) == 0.75)
        #expect(sgemm.calls == 1)
    }

    @Test func aLowerSecondMeasurementKeepsTheFirstAndTheRemeasuringStops() {
        let sgemm = Measurements(30e9, 10e9)
        var yardstick = MatmulYardstick(ranks: 1, remeasurements: 2, measure: sgemm.next)
        #expect(yardstick.utilisation(achievedFlops: 45e9) == 1.5)
        #expect(yardstick.peak == 30e9)
        #expect(yardstick.utilisation(achievedFlops: 45e9) == 1.5)
        #expect(yardstick.utilisation(achievedFlops: 45e9) == 1.5)
        #expect(sgemm.calls == 3)  // the first and the two allowed again
        #expect(yardstick.remeasurementsLeft == 0)
    }

    @Test func theReportOfABenchmarkCountsEveryRank() {
        let report = TrainBenchmarkReport(
            parameters: 1, trainableParameters: 1, optimizerStateBytes: 8, tokensPerStep: 1000, medianStepSeconds: 0.5,
            medianExchangeSeconds: 0, ranks: 2, flopsPerToken: 1e6, matmulPeak: 1e9, peakResidentBytes: 0)
        // 2,000 tokens/s × 1 MFLOP = 2 GFLOP/s against 2 ranks × 1 GFLOP/s.
        #expect(report.utilisation == 1.0)
    }
}
