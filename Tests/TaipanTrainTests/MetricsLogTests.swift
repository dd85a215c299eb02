import Foundation
import Testing
@testable import TaipanTrain

/// The lines of a file, each parsed as a JSON object; nil for a line that is not one.
func jsonLines(_ path: String) throws -> [[String: Any]?] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.isEmpty || text.hasSuffix("\n"))
    return text.split(separator: "\n").map {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

func steps(_ path: String) throws -> [Int] {
    try jsonLines(path).map { $0?["step"] as? Int ?? -1 }
}

@Suite struct MetricsLogTests {
    @Test func lineKeepsTheCallersKeyOrderAndEscapesStrings() {
        let line = MetricsLog.line(
            step: 10, kind: "train",
            [("loss", 3.21), ("learning_rate", 0.0006), ("tokens", 2048), ("note", "a\"b\\c\n\u{1}é")])
        #expect(line == #"{"step": 10, "kind": "train", "loss": 3.21, "learning_rate": 0.0006, "tokens": 2048, "note": "a\"b\\c\n\u0001é"}"# + "\n")
    }

    @Test func nonFiniteNumbersBecomeStringsAndEveryLineIsJSON() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try MetricsLog(directory: directory.path)
        let numbers: [Double] = [.nan, .infinity, -.infinity, 1e-5, 1e300, -0.25, .leastNonzeroMagnitude, 0.1]
        for (step, number) in numbers.enumerated() {
            try log.append(step: step, kind: "train", [("loss", .double(number)), ("text", "x\ty")])
        }
        log.close()
        let lines = try jsonLines(log.path)
        try #require(lines.count == numbers.count)
        #expect(lines.allSatisfy { $0 != nil })
        #expect(lines[0]?["loss"] as? String == "nan")
        #expect(lines[1]?["loss"] as? String == "inf")
        #expect(lines[2]?["loss"] as? String == "-inf")
        for index in 3..<numbers.count {
            #expect(lines[index]?["loss"] as? Double == numbers[index])
        }
        #expect(lines.map { $0?["kind"] as? String } == Array(repeating: "train", count: numbers.count))
        #expect(lines[0]?["text"] as? String == "x\ty")
    }

    @Test func floatsUseTheirOwnShortestDigits() {
        #expect(MetricsLog.line(step: 1, kind: "eval", [("loss", .float(3.21)), ("ppl", .float(.nan))])
            == #"{"step": 1, "kind": "eval", "loss": 3.21, "ppl": "nan"}"# + "\n")
        #expect(MetricsLog.json(.float(1e-5)) == "1e-05")
        #expect(MetricsLog.json(.float(-.infinity)) == #""-inf""#)
    }

    @Test func eachLineIsOnDiskOnceAppended() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try MetricsLog(directory: directory.appendingPathComponent("run").path)
        #expect(try steps(log.path) == [])
        try log.append(step: 1, kind: "train", [("loss", 4.0)])
        #expect(try steps(log.path) == [1])
        try log.append(step: 2, kind: "eval", [("loss", 3.5)])
        #expect(try steps(log.path) == [1, 2])
        log.close()
        #expect(throws: LogFileError.self) { try log.append(step: 3, kind: "train", []) }
    }

    @Test func resumeDropsTheStepsAfterTheResumedOne() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try MetricsLog(directory: directory.path)
        for step in 1...8 {
            try first.append(step: step, kind: "train", [("loss", .double(10 / Double(step)))])
            if step % 4 == 0 { try first.append(step: step, kind: "eval", [("loss", 2.5)]) }
        }
        first.close()

        let resumed = try MetricsLog(directory: directory.path, resumeStep: 4)
        #expect(try steps(resumed.path) == [1, 2, 3, 4, 4])
        for step in 5...6 { try resumed.append(step: step, kind: "train", [("loss", 1.0)]) }
        resumed.close()
        let lines = try jsonLines(resumed.path)
        #expect(lines.map { $0?["step"] as? Int } == [1, 2, 3, 4, 4, 5, 6])
        #expect(lines[4]?["kind"] as? String == "eval")
        #expect(lines[2]?["loss"] as? Double == 10.0 / 3.0)
        #expect(lines[5]?["loss"] as? Double == 1.0)
    }

    @Test func resumeDropsALineCutShortByAKill() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("metrics.jsonl")
        try Data("{\"step\": 1, \"kind\": \"train\"}\n{\"step\": 2, \"kind\": \"train\"}\n{\"step\": 3, \"ki".utf8).write(to: path)
        let log = try MetricsLog(directory: directory.path, resumeStep: 2)
        try log.append(step: 3, kind: "train", [])
        log.close()
        #expect(try String(contentsOf: path, encoding: .utf8)
            == "{\"step\": 1, \"kind\": \"train\"}\n{\"step\": 2, \"kind\": \"train\"}\n{\"step\": 3, \"kind\": \"train\"}\n")
    }

    @Test func aDamagedLineIsAnErrorNamingFileAndLineAndLosesNothing() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("metrics.jsonl")
        let contents = "{\"step\": 1, \"kind\": \"train\"}\nnot json\n{\"step\": 3, \"kind\": \"train\"}\n"
        try Data(contents.utf8).write(to: path)
        #expect {
            _ = try MetricsLog(directory: directory.path, resumeStep: 1)
        } throws: { error in
            (error as? LogFileError)?.path == path.path + ":2"
        }
        #expect(try String(contentsOf: path, encoding: .utf8) == contents)
    }

    @Test func resumeWithoutALogStartsOneAndAFreshRunReplacesIt() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let resumed = try MetricsLog(directory: directory.path, resumeStep: 100)
        try resumed.append(step: 101, kind: "train", [])
        resumed.close()
        #expect(try steps(resumed.path) == [101])
        let fresh = try MetricsLog(directory: directory.path)
        #expect(try steps(fresh.path) == [])
    }

    @Test func anUnusableDirectoryIsAnErrorNamingIt() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("not-a-directory")
        try Data("x".utf8).write(to: file)
        let target = file.appendingPathComponent("run").path
        #expect {
            _ = try MetricsLog(directory: target)
        } throws: { error in
            (error as? LogFileError)?.description.contains(target) == true
        }
    }
}
