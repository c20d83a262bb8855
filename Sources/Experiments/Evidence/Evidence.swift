import Foundation

/// Mean, sample standard deviation and the Student-t 95 % interval of the mean of a small sample (one value per seed).
public struct SampleSummary: Sendable, Equatable {
    public let values: [Double]
    public var n: Int { values.count }
    public var mean: Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(n) }
    /// Sample standard deviation (n − 1); 0 for a single value.
    public var sd: Double {
        guard n > 1 else { return n == 1 ? 0 : .nan }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
    }
    /// Half-width of the 95 % interval of the mean; infinite with fewer than two values (no estimate of noise).
    public var halfWidth: Double { n > 1 ? Evidence.t975(df: n - 1) * sd / Double(n).squareRoot() : .infinity }
    public var lower: Double { mean - halfWidth }
    public var upper: Double { mean + halfWidth }

    public init(_ values: [Double]) { self.values = values }
}

/// The rules every verdict of this pipeline uses, so that seed noise cannot flip one.
public enum Evidence {
    /// Outcome of a paired comparison of two models over the same seeds.
    public enum Comparison: String, Sendable, Equatable {
        case better, worse, tie
        /// One seed: no estimate of the noise, so no direction is claimed.
        case undecided = "undecided (1 seed)"
    }

    /// The rule, stated once for tables, claims and README.
    public static let pairedRule =
        "paired over seeds (seed s of one model against seed s of the other): better / worse when the 95 % Student-t interval of the mean difference excludes 0, else tie"

    /// a vs b, paired by seed: differences a_s − b_s, better when their 95 % interval lies above 0, worse below.
    public static func compare(_ a: [Double], _ b: [Double]) -> (difference: SampleSummary, verdict: Comparison) {
        precondition(a.count == b.count, "paired comparison needs one value per seed on both sides")
        let d = SampleSummary(zip(a, b).map { $0 - $1 })
        if d.n < 2 { return (d, .undecided) }
        if d.lower > 0 { return (d, .better) }
        if d.upper < 0 { return (d, .worse) }
        return (d, .tie)
    }

    /// Outcome of a non-inferiority check: is `a` at most `margin` (relative to b's mean) below `b`?
    public enum Margin: String, Sendable, Equatable {
        /// The whole interval of a − b lies above −margin·mean(b).
        case within
        /// The whole interval lies below it.
        case outside
        /// The interval straddles the margin: the seeds cannot tell.
        case inconclusive
    }

    public static func withinMargin(
        _ a: [Double], _ b: [Double], margin: Double
    ) -> (difference: SampleSummary, verdict: Margin) {
        let (d, _) = compare(a, b)
        let bound = -margin * SampleSummary(b).mean
        if d.n < 2 { return (d, d.mean >= bound ? .within : .outside) }
        if d.lower >= bound { return (d, .within) }
        if d.upper < bound { return (d, .outside) }
        return (d, .inconclusive)
    }

    /// A trained model "did not learn" when its mean MRR@5 is below `learnFactor` × MostPop's, or (with ≥ 2 seeds)
    /// when the 95 % interval of its mean reaches down to MostPop's value.
    public static let learnFactor = 1.1
    public static let learnRule =
        "did not learn: mean MRR@5 below 1.1 × MostPop's, or the 95 % interval of its mean over seeds reaches MostPop's"

    public static func learned(_ values: [Double], mostPop: Double) -> Bool {
        let s = SampleSummary(values)
        guard s.n > 0, s.mean.isFinite else { return false }
        if s.mean < learnFactor * mostPop { return false }
        return s.n < 2 || s.lower > mostPop
    }

    /// Two-sided 95 % quantile of Student's t with `df` degrees of freedom.
    public static func t975(df: Int) -> Double {
        let table: [Double] = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
            2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
            2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042
        ]
        guard df >= 1 else { return .infinity }
        if df <= table.count { return table[df - 1] }
        if df <= 60 { return 2.000 + (2.042 - 2.000) * Double(60 - df) / 30 }
        return 1.96
    }
}
