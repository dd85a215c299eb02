// AccuracyChart.swift — an SVG line chart of accuracy against test length (log-2 x axis, one
// line per model), written by hand: the length-extrapolation figure of the Mamba paper, which
// any browser shows and a Markdown file can embed.

import Foundation

/// One line of the chart.
public struct ChartSeries: Sendable {
    /// The legend's text.
    public var label: String
    /// (length, accuracy in [0, 1]) points, any order.
    public var points: [(length: Int, accuracy: Double)]
    /// The training length, drawn as a dashed marker when given.
    public var trainLength: Int?

    public init(label: String, points: [(length: Int, accuracy: Double)], trainLength: Int? = nil) {
        self.label = label
        self.points = points
        self.trainLength = trainLength
    }
}

public enum AccuracyChart {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    /// The SVG document: accuracy (%) against test length on a log-2 axis, `title` on top.
    public static func svg(title: String, series: [ChartSeries]) -> String {
        let (width, height) = (760.0, 440.0)
        let (left, right, top, bottom) = (70.0, 200.0, 50.0, 60.0)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let lengths = series.flatMap { $0.points.map(\.length) + ($0.trainLength.map { [$0] } ?? []) }.filter { $0 > 0 }
        var low = floor(log2(Double(lengths.min() ?? 1))), high = ceil(log2(Double(lengths.max() ?? 2)))
        if high <= low { high = low + 1 }
        if high - low > 30 { low = high - 30 }
        func x(_ length: Int) -> Double { left + (log2(Double(length)) - low) / (high - low) * plotWidth }
        func y(_ accuracy: Double) -> Double { top + (1 - min(max(accuracy, 0), 1)) * plotHeight }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }

        var out: [String] = []
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">")
        out.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        out.append("<text x=\"\(number(left + plotWidth / 2))\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>")
        // Grid and axes.
        for percent in stride(from: 0, through: 100, by: 20) {
            let level = y(Double(percent) / 100)
            out.append("<line x1=\"\(number(left))\" y1=\"\(number(level))\" x2=\"\(number(left + plotWidth))\" y2=\"\(number(level))\" stroke=\"#e0e0e0\"/>")
            out.append("<text x=\"\(number(left - 8))\" y=\"\(number(level + 4))\" text-anchor=\"end\">\(percent)</text>")
        }
        let step = max(1, Int((high - low) / 12) + 1)
        for exponent in stride(from: Int(low), through: Int(high), by: step) {
            let position = x(1 << exponent)
            out.append("<line x1=\"\(number(position))\" y1=\"\(number(top))\" x2=\"\(number(position))\" y2=\"\(number(top + plotHeight))\" stroke=\"#e0e0e0\"/>")
            out.append("<text x=\"\(number(position))\" y=\"\(number(top + plotHeight + 18))\" text-anchor=\"middle\">2<tspan dy=\"-5\" font-size=\"9\">\(exponent)</tspan></text>")
        }
        out.append("<rect x=\"\(number(left))\" y=\"\(number(top))\" width=\"\(number(plotWidth))\" height=\"\(number(plotHeight))\" fill=\"none\" stroke=\"#333\"/>")
        out.append("<text x=\"\(number(left + plotWidth / 2))\" y=\"\(number(height - 14))\" text-anchor=\"middle\">test sequence length (log scale)</text>")
        out.append("<text transform=\"translate(20 \(number(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">accuracy (%)</text>")
        // Training lengths.
        for length in Set(series.compactMap(\.trainLength)).sorted() {
            let position = x(length)
            out.append("<line x1=\"\(number(position))\" y1=\"\(number(top))\" x2=\"\(number(position))\" y2=\"\(number(top + plotHeight))\" stroke=\"#555\" stroke-dasharray=\"4 4\"/>")
            out.append("<text x=\"\(number(position + 4))\" y=\"\(number(top + 12))\" fill=\"#555\" font-size=\"10\">train length \(length)</text>")
        }
        // One line per model, with its legend entry.
        for (index, line) in series.enumerated() {
            let color = colors[index % colors.count]
            let sorted = line.points.filter { $0.length > 0 }.sorted { $0.length < $1.length }
            let path = sorted.map { "\(number(x($0.length))),\(number(y($0.accuracy)))" }.joined(separator: " ")
            out.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            for point in sorted {
                out.append("<circle cx=\"\(number(x(point.length)))\" cy=\"\(number(y(point.accuracy)))\" r=\"3.5\" fill=\"\(color)\"><title>\(escape(line.label)): length \(point.length), \(String(format: "%.2f", 100 * point.accuracy))%</title></circle>")
            }
            let legendY = top + 10 + Double(index) * 20
            out.append("<line x1=\"\(number(left + plotWidth + 15))\" y1=\"\(number(legendY))\" x2=\"\(number(left + plotWidth + 40))\" y2=\"\(number(legendY))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            out.append("<text x=\"\(number(left + plotWidth + 46))\" y=\"\(number(legendY + 4))\">\(escape(line.label))</text>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Text with XML's special characters escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
