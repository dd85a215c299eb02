import Testing
@testable import TaipanData

@Suite struct LineReaderTests {
    func lines(_ text: [UInt8], piece: Int, bufferSize: Int) throws -> [String] {
        let reader = LineReader(source: MemorySource(text, piece: piece), bufferSize: bufferSize)
        var result: [String] = []
        var line: [UInt8] = []
        while try reader.readLine(appendingTo: &line) {
            result.append(String(decoding: line, as: UTF8.self))
            #expect(reader.lineNumber == result.count)
            line.removeAll()
        }
        return result
    }

    @Test func splitsLinesWithAndWithoutCarriageReturns() throws {
        let text = Array("one\r\ntwo\n\nthree\r\r\nlast".utf8)
        for (piece, buffer) in [(1, 1), (3, 2), (100, 4), (100, 100)] {
            #expect(try lines(text, piece: piece, bufferSize: buffer) == ["one", "two", "", "three\r", "last"])
        }
        #expect(try lines(Array("a\n".utf8), piece: 10, bufferSize: 10) == ["a"])
        #expect(try lines([], piece: 10, bufferSize: 10) == [])
    }

    @Test func keepsLineEndingsWhenAsked() throws {
        let text = Array("one\r\ntwo\n\nthree\r\r\nlast".utf8)
        for (piece, buffer) in [(1, 1), (3, 2), (100, 100)] {
            let reader = LineReader(source: MemorySource(text, piece: piece), bufferSize: buffer)
            var result: [String] = []
            var line: [UInt8] = []
            while try reader.readLine(appendingTo: &line, keepingLineEnding: true) {
                result.append(String(decoding: line, as: UTF8.self))
                line.removeAll()
            }
            #expect(result == ["one\r\n", "two\n", "\n", "three\r\r\n", "last"])
            #expect(reader.lineNumber == 5)
        }
    }

    @Test func linesLongerThanTheBufferArriveWhole() throws {
        let long = String(repeating: "x", count: 100_000)
        let text = Array("short\n\(long)\n\(long)y".utf8)
        #expect(try lines(text, piece: 4096, bufferSize: 1024) == ["short", long, long + "y"])
    }

    @Test func appendsAfterWhatTheCallerHolds() throws {
        let reader = LineReader(source: MemorySource(Array("\r\n\nb\n".utf8), piece: 10), bufferSize: 16)
        var bytes = Array("kept\r".utf8)
        #expect(try reader.readLine(appendingTo: &bytes))
        #expect(try reader.readLine(appendingTo: &bytes))
        #expect(bytes == Array("kept\r".utf8))
    }
}
