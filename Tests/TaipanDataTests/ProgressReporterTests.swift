import Testing
@testable import TaipanData

@Suite struct ProgressReporterTests {
    @Test func aTerminalGetsOneLineRewrittenInPlace() {
        var written: [String] = []
        let reporter = ProgressReporter(inPlace: true) { written.append($0) }
        reporter.update("1%")
        reporter.update("2%")
        reporter.finish("100%")
        #expect(written == ["\r1%", "\r2%", "\r100%\n"])
        reporter.update("again")
        reporter.endLine()
        #expect(written.suffix(2) == ["\ragain", "\n"])
    }

    @Test func aLogFileGetsWholeLinesNoMoreOftenThanTheInterval() {
        var written: [String] = []
        let reporter = ProgressReporter(inPlace: false, interval: 3600) { written.append($0) }
        reporter.update("1%")
        reporter.update("2%")
        reporter.endLine()
        reporter.finish("100%")
        #expect(written == ["1%\n", "100%\n"])
        let every = ProgressReporter(inPlace: false, interval: 0) { written.append($0) }
        every.update("a")
        every.update("b")
        #expect(written.suffix(2) == ["a\n", "b\n"])
    }
}
