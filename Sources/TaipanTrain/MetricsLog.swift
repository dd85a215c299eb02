// MetricsLog.swift — the run directory's `metrics.jsonl` (JSON Lines): one JSON object per
// logged step, `{"step": 10, "kind": "train", "loss": 3.21, "learning_rate": 0.0006, …}`, with
// the keys in the order the trainer gives them. JSON has no NaN or infinity, so those are
// written as the strings "nan", "inf" and "-inf". Each line reaches the file as it is logged;
// a resumed run first drops the lines of steps after the one it resumes from.

import Foundation
import TaipanCheckpoint

/// One value in a metrics line.
public enum MetricValue: Equatable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral
{
    case int(Int)
    case double(Double)
    /// Written with the shortest digits that read back to the same `Float` ("3.21", not
    /// "3.2100000381469727").
    case float(Float)
    case string(String)

    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}

/// Appends metrics to `DIRECTORY/metrics.jsonl`, one line per call.
public final class MetricsLog {
    /// The file being written.
    public let path: String
    private var handle: FileHandle?

    /// Opens `directory/metrics.jsonl`, creating the directory if needed.
    ///
    /// - Parameter resumeStep: `nil` starts a new log, replacing an existing file. A step keeps
    ///   the lines of steps up to and including it and drops the later ones, which the resumed
    ///   run will log again; a last line cut short by a killed run is dropped too.
    public init(directory: String, resumeStep: Int? = nil) throws(LogFileError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LogFileError(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        let manager = FileManager.default
        if let resumeStep, manager.fileExists(atPath: path) {
            try Self.dropLines(after: resumeStep, path: path)
        } else if !manager.createFile(atPath: path, contents: nil) {
            throw LogFileError(path: path, message: "cannot create the file")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw LogFileError(path: path, message: "cannot open the file for writing")
        }
        self.handle = handle
        do {
            try handle.seekToEnd()
        } catch {
            throw LogFileError(path: path, message: "cannot seek to the end: \(error.localizedDescription)")
        }
    }

    deinit {
        close()
    }

    /// Writes `{"step": step, "kind": kind, key: value, …}` as one line.
    public func append(step: Int, kind: String, _ values: [(String, MetricValue)]) throws(LogFileError) {
        guard let handle else { throw LogFileError(path: path, message: "the log is closed") }
        do {
            try handle.write(contentsOf: Data(Self.line(step: step, kind: kind, values).utf8))
        } catch {
            throw LogFileError(path: path, message: "write failed: \(error.localizedDescription)")
        }
    }

    /// Closes the file; later calls do nothing.
    public func close() {
        try? handle?.close()
        handle = nil
    }

    /// The JSON line, newline included.
    static func line(step: Int, kind: String, _ values: [(String, MetricValue)]) -> String {
        var fields = ["\"step\": \(step)", "\"kind\": \(JSONValue.string(kind).serialized())"]
        for (key, value) in values {
            fields.append("\(JSONValue.string(key).serialized()): \(json(value))")
        }
        return "{" + fields.joined(separator: ", ") + "}\n"
    }

    /// `value` as JSON.
    static func json(_ value: MetricValue) -> String {
        switch value {
        case .int(let number):
            return "\(number)"
        case .double(let number):
            return jsonNumber(number, text: "\(number)")
        case .float(let number):
            return jsonNumber(Double(number), text: "\(number)")
        case .string(let text):
            return JSONValue.string(text).serialized()
        }
    }

    /// `text` for a finite number; Swift prints the shortest digits that read back to the same
    /// value, in a form JSON accepts ("0.0006", "1e-05", "3.0").
    private static func jsonNumber(_ number: Double, text: String) -> String {
        if number.isNaN { return "\"nan\"" }
        if number.isInfinite { return number > 0 ? "\"inf\"" : "\"-inf\"" }
        return text
    }

    /// Rewrites the log (atomically, through a temporary file) without the lines of steps after
    /// `step` and without a trailing line that has no newline.
    private static func dropLines(after step: Int, path: String) throws(LogFileError) {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LogFileError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        var kept = Data()
        var lineStart = contents.startIndex
        var lineNumber = 0
        while let newline = contents[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            lineNumber += 1
            let line = contents[lineStart...newline]
            lineStart = contents.index(after: newline)
            let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any]
            guard let lineStep = object?["step"] as? Int else {
                throw LogFileError(path: "\(path):\(lineNumber)", message: "not a JSON object with an integer \"step\"")
            }
            if lineStep <= step { kept.append(line) }
        }
        guard kept.count != contents.count else { return }
        do {
            try kept.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw LogFileError(path: path, message: "cannot rewrite: \(error.localizedDescription)")
        }
    }
}
