// TrainingLog.swift — where a run reports: one progress line per interval on standard output,
// `metrics.jsonl` in the run directory, and TensorBoard scalars. A logging failure is reported
// once and the log goes quiet; it never stops training.

import Foundation

final class TrainingLog {
    static let metricsFileName = "metrics.jsonl"

    private let print: (String) -> Void
    private var metrics: MetricsLog?
    private var tensorBoard: TensorBoardWriter?

    /// Opens the run's logs; a resumed run keeps its earlier lines up to `resumedAt`.
    init(runDirectory: String, config: TrainConfig, resumedAt: Int?, print: @escaping (String) -> Void) throws {
        self.print = print
        metrics = try MetricsLog(directory: runDirectory, resumeStep: resumedAt)
        if config.logging.tensorboard { tensorBoard = try TensorBoardWriter(directory: runDirectory) }
    }

    /// A log that prints and records nothing: the one of every rank but 0.
    static func silent() -> TrainingLog { TrainingLog(print: { _ in }) }

    private init(print: @escaping (String) -> Void) {
        self.print = print
    }

    func message(_ text: String) { print(text) }

    func trainStep(
        step: Int, totalSteps: Int, loss: Double, learningRate: Double, gradientNorm: Double,
        tokensPerSecond: Double, utilisation: Double, secondsLeft: Double, tokensSeen: Int
    ) {
        let width = String(totalSteps).count
        let stepText = String(repeating: " ", count: max(0, width - String(step).count)) + String(step)
        print(String(
            format: "step %@/%d | loss %.4f | lr %.2e | grad %.3f | %@ tok/s | MFU %.1f%% | ETA %@",
            stepText, totalSteps, loss, learningRate, gradientNorm, Int(tokensPerSecond.rounded()).formatted(),
            utilisation * 100, Self.duration(secondsLeft)))
        record(step: step, kind: "train", [
            ("loss", .double(loss)), ("learning_rate", .double(learningRate)), ("gradient_norm", .double(gradientNorm)),
            ("tokens_per_second", .double(tokensPerSecond)), ("mfu", .double(utilisation)), ("tokens", .int(tokensSeen)),
        ])
    }

    /// An evaluation; `accuracy` (the share of answers predicted, for synthetic tasks) when given.
    func evaluation(step: Int, loss: Double, accuracy: Double? = nil) {
        let perplexity = Foundation.exp(loss)
        print(String(format: "eval step %d | validation loss %.4f | perplexity %.2f", step, loss, perplexity)
            + (accuracy.map { String(format: " | accuracy %.2f%%", 100 * $0) } ?? ""))
        record(step: step, kind: "eval", [("loss", .double(loss)), ("perplexity", .double(perplexity))] + (accuracy.map { [("accuracy", .double($0))] } ?? []))
    }

    func sample(step: Int, prompt: String, text: String) {
        print("sample at step \(step):\n\(prompt)\(text)")
        record(step: step, kind: "sample", [("text", .string(prompt + text))], scalars: false)
    }

    /// Appends to metrics.jsonl and, for numbers, TensorBoard (tags `kind/key`).
    private func record(step: Int, kind: String, _ values: [(String, MetricValue)], scalars: Bool = true) {
        do {
            try metrics?.append(step: step, kind: kind, values)
        } catch {
            print("warning: \(error); metrics.jsonl is no longer written")
            metrics = nil
        }
        guard scalars, let tensorBoard else { return }
        let numbers: [(String, Float)] = values.compactMap { key, value in
            switch value {
            case .double(let number): return ("\(kind)/\(key)", Float(number))
            case .int(let number): return ("\(kind)/\(key)", Float(number))
            case .float(let number): return ("\(kind)/\(key)", number)
            case .string: return nil
            }
        }
        do {
            try tensorBoard.add(scalars: numbers, step: step)
        } catch {
            print("warning: \(error); TensorBoard events are no longer written")
            self.tensorBoard = nil
        }
    }

    /// `1h02m`, `4m21s`, `12s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%dh%02dm", total / 3600, total % 3600 / 60) }
        if total >= 60 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return "\(total)s"
    }
}
