// EvalLengthsCommand.swift — `taipan eval-lengths RUN|CHECKPOINT…`: the accuracy of
// synthetic-task models at test lengths beyond their training length, in the recurrent form,
// as a table and an SVG chart (one line per model).

import ArgumentParser
import Foundation
import TaipanTrain

struct EvalLengthsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-lengths",
        abstract: "Accuracy of synthetic-task runs (selective_copying, induction_heads) at test lengths, in the recurrent form (constant memory, time linear in the length); writes an SVG chart.")

    @Argument(help: "Runs' TOML configs or run directories (their newest checkpoints), or checkpoint directories; one chart line each.") var targets: [String]
    @Option(help: "Comma-separated test lengths, e.g. 256,512,1024 (default: the first run's training length ×1, ×2, … ×64).") var lengths: String?
    @Option(help: "Test sequences at each length.") var sequences = 32
    @Option(help: "induction_heads: answered triggers a test row (1 = the paper's test, one query at the end; default: the run's).") var queries: Int?
    @Option(help: "Seeds the test examples (their own stream, apart from training and validation).") var seed = 0
    @Option(help: "Threads (each steps its share of the sequences); 0 = all cores.") var threads = 0
    @Option(help: "Where the SVG chart goes (default: length-accuracy.svg in the first run's directory).") var chart: String?
    @Flag(help: "Also print each model's time steps Δ by layer and by what the position holds, over the test sequences of the first length (one thread).")
    var timeSteps = false

    func validate() throws {
        if targets.isEmpty { throw ValidationError("name at least one run config, run directory or checkpoint directory") }
        if sequences < 1 { throw ValidationError("--sequences must be at least 1") }
        if threads < 0 { throw ValidationError("--threads must not be negative") }
        if seed < 0 { throw ValidationError("--seed must not be negative") }
        if let queries, queries < 1 { throw ValidationError("--queries must be at least 1") }
        if let lengths, parse(lengths) == nil { throw ValidationError("--lengths: expected comma-separated positive integers, got \"\(lengths)\"") }
    }

    func parse(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.compactMap { $0 }
    }

    func run() throws {
        let threadCount = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        let first = try Evaluation.resolve(target: targets[0])
        let testLengths = lengths.flatMap(parse) ?? (0...6).map { first.config.data.sequenceLength << $0 }
        var curves: [LengthCurve] = []
        for target in targets {
            curves.append(try LengthExtrapolation.run(
                target: target, lengths: testLengths, sequences: sequences, seed: UInt64(seed), queries: queries, threads: threadCount,
                progress: writeLine))
        }
        writeLine("task | mixer | train length | test length | accuracy (%) | answers")
        for curve in curves {
            for point in curve.points {
                writeLine("\(curve.task.rawValue) | \(curve.mixer) | \(curve.trainLength) | \(point.length) | \(String(format: "%.2f", 100 * point.accuracy)) | \(point.answers)")
            }
        }
        let path = chart ?? (first.config.training.runDirectory as NSString).appendingPathComponent("length-accuracy.svg")
        let tasks = Set(curves.map(\.task.rawValue)).sorted().joined(separator: ", ")
        let svg = AccuracyChart.svg(
            title: "\(tasks): accuracy against test length",
            series: curves.map { curve in
                ChartSeries(label: "\(curve.mixer) (train \(curve.trainLength))", points: curve.points.map { ($0.length, $0.accuracy) }, trainLength: curve.trainLength)
            })
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        do { try svg.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ValidationError("--chart: cannot write \(path): \(error.localizedDescription)")
        }
        writeLine("chart: \(path)")
        guard timeSteps else { return }
        writeLine("mixer | layer | role | positions | mean Δ | least channel's mean Δ | most channel's mean Δ  (length \(testLengths[0]))")
        for (target, curve) in zip(targets, curves) {
            for row in try LengthExtrapolation.timeSteps(target: target, length: testLengths[0], sequences: sequences, seed: UInt64(seed), queries: queries) {
                writeLine("\(curve.mixer) | \(row.layer) | \(row.role) | \(row.positions) | "
                    + String(format: "%.3g | %.3g | %.3g", row.mean, row.leastChannelMean, row.mostChannelMean))
            }
        }
    }
}
