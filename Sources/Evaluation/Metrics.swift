import Foundation
import Models

/// MRR, HR and NDCG at 5 and 20, averaged over the evaluated sequences (NextItNet/CpRec `nextitrec_eval.py`), and
/// HR / NDCG at 10, the cutoff SASRec and S3Rec report on the Amazon benchmarks.
public struct RankingMetrics: Codable, Hashable, Sendable {
    public var mrr5: Double = 0
    public var hr5: Double = 0
    public var ndcg5: Double = 0
    public var mrr20: Double = 0
    public var hr20: Double = 0
    public var ndcg20: Double = 0
    public var hr10: Double = 0
    public var ndcg10: Double = 0
    /// Number of sequences averaged over.
    public var count: Int = 0

    public init() {}

    public init(
        mrr5: Double, hr5: Double, ndcg5: Double, mrr20: Double, hr20: Double, ndcg20: Double, count: Int,
        hr10: Double = 0, ndcg10: Double = 0
    ) {
        self.mrr5 = mrr5; self.hr5 = hr5; self.ndcg5 = ndcg5
        self.mrr20 = mrr20; self.hr20 = hr20; self.ndcg20 = ndcg20
        self.hr10 = hr10; self.ndcg10 = ndcg10
        self.count = count
    }

    enum CodingKeys: String, CodingKey { case mrr5, hr5, ndcg5, mrr20, hr20, ndcg20, hr10, ndcg10, count }

    /// Records cached before the @10 cutoff existed still decode (their @10 reads 0; evaluate stages were re-keyed).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mrr5 = try c.decode(Double.self, forKey: .mrr5); hr5 = try c.decode(Double.self, forKey: .hr5)
        ndcg5 = try c.decode(Double.self, forKey: .ndcg5); mrr20 = try c.decode(Double.self, forKey: .mrr20)
        hr20 = try c.decode(Double.self, forKey: .hr20); ndcg20 = try c.decode(Double.self, forKey: .ndcg20)
        hr10 = try c.decodeIfPresent(Double.self, forKey: .hr10) ?? 0
        ndcg10 = try c.decodeIfPresent(Double.self, forKey: .ndcg10) ?? 0
        count = try c.decode(Int.self, forKey: .count)
    }

    /// One line for logs: "MRR@5 .1234 HR@5 .2345 NDCG@5 ... (n=...)".
    public var summary: String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return "MRR@5 \(f(mrr5)) HR@5 \(f(hr5)) NDCG@5 \(f(ndcg5)) MRR@20 \(f(mrr20)) HR@20 \(f(hr20)) "
            + "NDCG@20 \(f(ndcg20)) (n=\(count))"
    }
}

/// Ranking of one target among scored candidates.
///
/// Rank is 0-based: the number of other candidates scoring at least as high as the target (ties count
/// against the target, whatever the ids), so a model whose scores are all equal ranks every target last
/// instead of scoring like MostPop (ids are frequency ranks). A NaN target score ranks behind everything, and
/// a NaN competitor counts ahead of the target: a broken score row can never look good. Padding id 0 is never
/// a candidate. (`topN` still lists tied items by ascending id: that is a display order, not a metric rule.)
public enum Ranking {
    /// 0-based rank of `target` among items 1..<itemCount of one score row (padding id 0 excluded).
    @inlinable
    public static func rank(scores: UnsafePointer<Float>, itemCount: Int, target: Int) -> Int {
        precondition(target >= 1 && target < itemCount, "target \(target) outside 1..<\(itemCount)")
        let s = scores[target]
        if s.isNaN { return itemCount - 2 }
        var r = 0
        for i in 1..<itemCount where i != target {
            let v = scores[i]
            // `!(v < s)` is `v >= s` for numbers and true for NaN.
            if !(v < s) { r += 1 }
        }
        return r
    }

    /// Per-rank contributions at cutoff n: (MRR, HR, NDCG), all 0 when rank ≥ n.
    @inlinable
    public static func contributions(rank: Int, cutoff n: Int) -> (mrr: Double, hr: Double, ndcg: Double) {
        guard rank < n else { return (0, 0, 0) }
        return (1 / Double(rank + 1), 1, 1 / log2(Double(rank + 2)))
    }

    /// The `n` best item ids of one score row (padding 0 excluded), best first; ties by ascending id.
    public static func topN(scores: UnsafePointer<Float>, itemCount: Int, n: Int) -> [Int32] {
        TopN.select(scores: scores, itemCount: itemCount, n: n)
    }

    /// Top-`n` lists of every row of a B×K score matrix: B×n ids.
    public static func topN(scores: [Float], rows: Int, itemCount: Int, n: Int) -> [Int32] {
        TopN.select(scores: scores, rows: rows, itemCount: itemCount, n: n)
    }
}

/// Sums metric contributions over batches of score rows and averages at the end.
public struct MetricAccumulator: Sendable {
    private var sums = [Double](repeating: 0, count: 8)
    public private(set) var count = 0
    /// Targets equal to padding (0) are skipped, not counted as misses; how many were skipped.
    public private(set) var skipped = 0

    public init() {}

    /// Adds one evaluated target by its 0-based rank.
    public mutating func add(rank: Int) {
        let a = Ranking.contributions(rank: rank, cutoff: 5)
        let b = Ranking.contributions(rank: rank, cutoff: 20)
        sums[0] += a.mrr; sums[1] += a.hr; sums[2] += a.ndcg
        sums[3] += b.mrr; sums[4] += b.hr; sums[5] += b.ndcg
        let c = Ranking.contributions(rank: rank, cutoff: 10)
        sums[6] += c.hr; sums[7] += c.ndcg
        count += 1
    }

    /// Adds a B×K score matrix (row-major) with one target per row.
    public mutating func add(scores: [Float], itemCount: Int, targets: [Int32]) {
        precondition(scores.count == targets.count * itemCount, "scores must be B×K with B = targets.count")
        scores.withUnsafeBufferPointer { p in
            for (b, t) in targets.enumerated() {
                guard t != 0 else { skipped += 1; continue }
                add(rank: Ranking.rank(scores: p.baseAddress! + b * itemCount, itemCount: itemCount, target: Int(t)))
            }
        }
    }

    /// Merges another accumulator (e.g. from a parallel shard).
    public mutating func merge(_ other: MetricAccumulator) {
        for i in 0..<sums.count { sums[i] += other.sums[i] }
        count += other.count
        skipped += other.skipped
    }

    /// Averages over the added targets (all zeros when none were added).
    public var result: RankingMetrics {
        guard count > 0 else { return RankingMetrics() }
        let n = Double(count)
        return RankingMetrics(
            mrr5: sums[0] / n, hr5: sums[1] / n, ndcg5: sums[2] / n,
            mrr20: sums[3] / n, hr20: sums[4] / n, ndcg20: sums[5] / n, count: count,
            hr10: sums[6] / n, ndcg10: sums[7] / n)
    }
}
