// LearningRateSchedule.swift — the learning rate at each step: linear warmup, then cosine decay
// to a floor, a constant rate, or warmup-stable-decay (a long plateau, then a linear decay over
// the last part of the run).

import Foundation

/// A learning-rate schedule over `totalSteps` updates, indexed from step 0.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case cosine, constant
        /// Warmup-stable-decay.
        case wsd
    }

    public var kind: Kind
    /// The peak rate, reached at the end of warmup.
    public var peak: Double
    /// The floor cosine and wsd decay to.
    public var floor: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    /// The share of `totalSteps` over which wsd decays, at the end.
    public var decayFraction: Double

    public init(kind: Kind, peak: Double, floor: Double, warmupSteps: Int, totalSteps: Int, decayFraction: Double = 0.2) {
        self.kind = kind
        self.peak = peak
        self.floor = floor
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decayFraction = decayFraction
    }

    /// The rate for update `step` (0-based).
    public func rate(at step: Int) -> Double {
        // Warmup reaches the peak on its last step: (step + 1) / warmup.
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        switch kind {
        case .constant:
            return peak
        case .cosine:
            let span = max(1, totalSteps - warmupSteps)
            let progress = min(1, Double(step - warmupSteps) / Double(span))
            return floor + 0.5 * (1 + cos(Double.pi * progress)) * (peak - floor)
        case .wsd:
            let decaySteps = Int((Double(totalSteps) * decayFraction).rounded())
            let decayStart = max(warmupSteps, totalSteps - decaySteps)
            guard step >= decayStart, decaySteps > 0 else { return peak }
            let progress = min(1, Double(step - decayStart + 1) / Double(max(1, totalSteps - decayStart)))
            return peak + (floor - peak) * progress
        }
    }
}
