import Foundation
import Random

/// The statistics behind every verdict: Student-t tail probabilities, Holm's step-down adjustment, the paired
/// hierarchical bootstrap over seeds and test sequences, and how many seeds an observed effect would need.
public enum Statistics {
    /// P(T ≤ t) for Student's t with `df` degrees of freedom.
    public static func tCDF(_ t: Double, df: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 1 : (t < 0 ? 0 : .nan) }
        guard df > 0 else { return .nan }
        let x = df / (df + t * t)
        let tail = 0.5 * incompleteBeta(x, a: df / 2, b: 0.5)
        return t > 0 ? 1 - tail : tail
    }

    /// The q-quantile of Student's t (bisection on `tCDF`; q in (0, 1)).
    public static func tQuantile(_ q: Double, df: Double) -> Double {
        precondition(q > 0 && q < 1, "quantile outside (0, 1)")
        var lo = -1e3, hi = 1e3
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if tCDF(mid, df: df) < q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Regularised incomplete beta I_x(a, b), by the continued fraction (modified Lentz), using the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logFront: Double = logBeta + a * log(x) + b * log(1 - x)
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, a: b, b: a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...500 {
            let m = Double(m)
            let evenDen: Double = (a + 2 * m - 1) * (a + 2 * m)
            let even: Double = m * (b - m) * x / evenDen
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            f *= d * c
            let oddDen: Double = (a + 2 * m) * (a + 2 * m + 1)
            let odd: Double = -(a + m) * (a + b + m) * x / oddDen
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            f *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return exp(logFront) * f / a
    }

    /// One-sided p-value of "the mean of `values` exceeds `bound`" by the one-sample t test (H0: mean ≤ bound).
    /// One value (no estimate of spread) gives 1 unless the value itself decides exactly (spread 0).
    public static func pAbove(_ values: [Double], bound: Double) -> Double {
        let s = SampleSummary(values)
        guard s.n > 0, s.mean.isFinite else { return 1 }
        if s.n < 2 || s.sd == 0 {
            if s.n >= 2 { return s.mean > bound ? 0 : 1 }
            return 1
        }
        let t = (s.mean - bound) / (s.sd / Double(s.n).squareRoot())
        return 1 - tCDF(t, df: Double(s.n - 1))
    }

    /// Holm's step-down adjustment: the adjusted p-values, in the input order (each capped at 1).
    public static func holm(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            adjusted[i] = running
        }
        return adjusted
    }

    /// The paired hierarchical bootstrap: each replicate draws `seeds` indices with replacement, then test rows
    /// with replacement (one draw shared by every seed and both models: the test set is one fixed sample that
    /// every seed is scored on), and returns the mean over drawn seeds of `statistic(mean a, mean b)` over the
    /// drawn rows. `a[s][r]` and `b[s][r]` are seed s's per-row values of the two models on the same rows.
    public static func hierarchicalBootstrap(
        a: [[Double]], b: [[Double]], resamples: Int, seed: UInt64,
        statistic: (Double, Double) -> Double
    ) -> [Double] {
        precondition(a.count == b.count && !a.isEmpty, "one row vector per seed on both sides")
        let rows = a[0].count
        precondition(
            rows > 0 && a.allSatisfy { $0.count == rows } && b.allSatisfy { $0.count == rows },
            "both models scored on the same rows")
        var rng = Rng(seed: seed)
        var out = [Double]()
        out.reserveCapacity(resamples)
        var drawn = [Int](repeating: 0, count: rows)
        for _ in 0..<resamples {
            let seeds = (0..<a.count).map { _ in rng.int(below: a.count) }
            for r in 0..<rows { drawn[r] = rng.int(below: rows) }
            var total = 0.0
            for s in seeds {
                var sa = 0.0, sb = 0.0
                a[s].withUnsafeBufferPointer { pa in
                    b[s].withUnsafeBufferPointer { pb in
                        for r in drawn { sa += pa[r]; sb += pb[r] }
                    }
                }
                total += statistic(sa / Double(rows), sb / Double(rows))
            }
            out.append(total / Double(seeds.count))
        }
        return out
    }

    /// The (lo, hi) percentiles of `values` for a central interval of `level`.
    public static func percentileInterval(_ values: [Double], level: Double) -> (lower: Double, upper: Double) {
        let sorted = values.filter { !$0.isNaN }.sorted()
        guard !sorted.isEmpty else { return (.nan, .nan) }
        func at(_ q: Double) -> Double {
            let pos = q * Double(sorted.count - 1)
            let i = Int(pos.rounded(.down)), j = min(i + 1, sorted.count - 1)
            return sorted[i] + (sorted[j] - sorted[i]) * (pos - Double(i))
        }
        let tail = (1 - level) / 2
        return (at(tail), at(1 - tail))
    }

    /// One-sided bootstrap p-value of "the statistic exceeds `bound`": the share of replicates at or below it,
    /// with the +1 correction so that a finite number of replicates never claims p = 0.
    public static func bootstrapPAbove(_ replicates: [Double], bound: Double) -> Double {
        let below = replicates.filter { !($0 > bound) }.count
        return Double(below + 1) / Double(replicates.count + 1)
    }

    /// Seeds a paired comparison would need for its `level` interval to exclude `bound`, if the mean and the
    /// per-seed standard deviation stayed as observed; nil when no number up to `cap` would do (mean on the bound).
    public static func seedsNeeded(
        mean: Double, sd: Double, bound: Double, level: Double = 0.95, cap: Int = 1000
    ) -> Int? {
        let gap = abs(mean - bound)
        guard gap > 0, sd.isFinite else { return nil }
        if sd == 0 { return 2 }
        for n in 2...cap {
            let half = tQuantile(1 - (1 - level) / 2, df: Double(n - 1)) * sd / Double(n).squareRoot()
            if half < gap { return n }
        }
        return nil
    }
}
