import Foundation

/// One point of the long-tail figure: popularity rank (1 = most frequent) and its interaction count.
public struct RankFrequency: Codable, Equatable, Sendable {
    public var rank: Int
    public var frequency: Int
}

/// The numbers of one side of a Table 1 row.
public struct Table1Cells: Codable, Equatable, Sendable {
    /// #actions: non-padding interactions the models see (for a target side: (user, target) pairs).
    public var actions: Int
    /// #sequences (source) or #users (target side).
    public var sequences: Int
    /// #items without padding.
    public var items: Int
    /// Sequence length t (1 for a target side: one target per pair).
    public var t: Int
}

/// One row of Table 1; `target` is set for source/target datasets (ColdRec: "source / target").
public struct Table1Row: Codable, Equatable, Sendable {
    public var dataset: String
    public var source: Table1Cells
    public var target: Table1Cells?

    /// Cells as the paper prints them: "1.2M", "45.3K", with "source / target" where there is a target side.
    public var formatted: (actions: String, sequences: String, items: String, t: String) {
        func pair(_ f: (Table1Cells) -> Int, plain: Bool = false) -> String {
            let s = plain ? "\(f(source))" : DatasetStatistics.compact(f(source))
            guard let tg = target else { return s }
            return s + " / " + (plain ? "\(f(tg))" : DatasetStatistics.compact(f(tg)))
        }
        return (pair { $0.actions }, pair { $0.sequences }, pair { $0.items }, pair({ $0.t }, plain: true))
    }
}

/// Table 1 and long-tail figure data from prepared datasets.
public enum DatasetStatistics {
    /// (rank, frequency) for every real item of a frequency-indexed count vector (index 0 = padding is skipped).
    public static func rankFrequency(counts: [Int]) -> [RankFrequency] {
        counts.dropFirst().enumerated().map { RankFrequency(rank: $0.offset + 1, frequency: $0.element) }
    }

    /// The Table 1 row of a prepared dataset (from its `stats.json`).
    public static func table1Row(_ stats: PrepStats) -> Table1Row {
        let source = Table1Cells(
            actions: stats.interactions, sequences: stats.sequences, items: stats.items, t: stats.seqLength)
        let target = stats.transfer.map {
            Table1Cells(actions: $0.pairs, sequences: $0.users, items: $0.targetItems, t: 1)
        }
        return Table1Row(dataset: stats.name, source: source, target: target)
    }

    /// Share of all interactions held by the most frequent `fraction` of items (the long-tail check).
    public static func headShare(counts: [Int], fraction: Double) -> Double {
        let real = Array(counts.dropFirst()).sorted(by: >)
        let total = real.reduce(0, +)
        guard total > 0 else { return 0 }
        let k = Int((Double(real.count) * fraction).rounded(.up))
        return Double(real.prefix(k).reduce(0, +)) / Double(total)
    }

    /// Exponent s of a Zipf law f(r) ∝ r^-s fitted by least squares on log f against log r over the items with at
    /// least one interaction (ranks by descending count). A plain log-log fit, not maximum likelihood: it is there to
    /// let a reader compare how skewed datasets are, and every dataset goes through the same estimator.
    public static func zipfExponent(counts: [Int]) -> Double {
        let real = Array(counts.dropFirst()).filter { $0 > 0 }.sorted(by: >)
        guard real.count >= 2 else { return 0 }
        var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for (i, c) in real.enumerated() {
            let x = log(Double(i + 1)), y = log(Double(c))
            sx += x; sy += y; sxx += x * x; sxy += x * y
        }
        let n = Double(real.count)
        let den = n * sxx - sx * sx
        return den > 0 ? -(n * sxy - sx * sy) / den : 0
    }

    /// "1.2M", "45.3K" or the plain number below 1000 (the paper's M/K convention).
    public static func compact(_ n: Int) -> String {
        func one(_ x: Double) -> String {
            let s = String(format: "%.1f", x)
            return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
        }
        if n >= 1_000_000 { return one(Double(n) / 1_000_000) + "M" }
        if n >= 1_000 { return one(Double(n) / 1_000) + "K" }
        return "\(n)"
    }
}
