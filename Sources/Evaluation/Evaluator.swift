import Foundation
import Kernels
import Models

/// Full-ranking evaluation of a next-item model on held-out sequences (last item of each row is the target).
public enum Evaluator {
    /// Ranks all items (padding excluded) for the last item of every row of `sequences`, in batches.
    /// - Parameter limit: evaluate only the first `limit` rows (nil = all).
    public static func evaluate(_ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int,
                                limit: Int? = nil) -> RankingMetrics {
        precondition(sequences.length >= 2, "evaluation needs sequences of at least 2 ids (context + target)")
        let n = min(limit ?? sequences.count, sequences.count)
        var acc = MetricAccumulator()
        var start = 0
        while start < n {
            let end = min(n, start + batchSize)
            let (ctx, targets) = sequences.contextAndTargets(start..<end)
            acc.add(scores: model.scoreLast(ctx), itemCount: model.itemCount, targets: targets)
            start = end
        }
        return acc.result
    }
}

/// The PeterRec/CpRec transfer protocol: each positive ranked against sampled negatives.
public enum SampledRanking {
    /// `count` distinct negatives from 1..<itemCount, never `positive`, for user `index`.
    /// Depends only on (seed, index, positive, itemCount, count), so every model sees the same lists.
    public static func negatives(positive: Int32, itemCount: Int, count: Int = 99, seed: UInt64, index: Int) -> [Int32] {
        precondition(itemCount - 2 >= count, "need at least \(count) non-positive items, have \(itemCount - 2)")
        var rng = Rng(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index &+ 1))
        var out = [Int32]()
        out.reserveCapacity(count)
        // Rejection sampling; `count` ≪ K in practice, and a linear duplicate check is cheap for 99.
        while out.count < count {
            let c = Int32(1 + rng.int(below: itemCount - 1))
            if c == positive || out.contains(c) { continue }
            out.append(c)
        }
        return out
    }

    /// 0-based rank of the positive among itself and the negatives, by `Ranking.rank`'s rule: ties and NaN
    /// negatives count against the positive, and a NaN positive ranks last.
    public static func rank(positive: Int32, positiveScore: Float, negatives: [Int32], negativeScores: [Float]) -> Int {
        precondition(negatives.count == negativeScores.count)
        if positiveScore.isNaN { return negatives.count }
        var r = 0
        for s in negativeScores where !(s < positiveScore) { r += 1 }
        return r
    }
}

/// Wall time to produce the top-N list for every test sequence, by full scoring and by the model's `topN`.
public struct InferenceTiming: Codable, Hashable, Sendable {
    /// Seconds for scoreLast over all items followed by top-N selection.
    public var fullSeconds: Double
    /// Seconds for the model's `topN` (CpRec's early-stopping path for block-wise softmax models).
    public var fastSeconds: Double
    public var sequences: Int
    public var batchSize: Int
    public var threads: Int
    public var n: Int
    /// Fraction of rows whose fast top-N list equals the full-scoring list exactly.
    public var agreement: Double

    /// Speedup of `model`'s fast top-N path over `baseline`'s full scoring, timed in alternation (`rounds` each,
    /// medians) so both see the same machine load; returns (baseline seconds, model seconds).
    public static func paired(baseline: any SequenceModel, model: any SequenceModel, on sequences: SequenceSet,
                              batchSize: Int, n: Int = 5, rounds: Int = 5) -> (baseline: Double, model: Double) {
        var b = [Double](), m = [Double]()
        for _ in 0..<max(rounds, 1) {
            b.append(measure(baseline, on: sequences, batchSize: batchSize, n: n).fullSeconds)
            m.append(measure(model, on: sequences, batchSize: batchSize, n: n).fastSeconds)
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        return (median(b), median(m))
    }

    /// Times both paths on the context (all but the last item) of every row of `sequences`.
    public static func measure(_ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int, n: Int = 5,
                               limit: Int? = nil) -> InferenceTiming {
        let rows = min(limit ?? sequences.count, sequences.count)
        var batches = [SequenceBatch]()
        var start = 0
        while start < rows {
            let end = min(rows, start + batchSize)
            batches.append(sequences.contextAndTargets(start..<end).context)
            start = end
        }
        // Warm-up: the first call of each path sizes the model's workspaces; keep allocation out of the timing.
        if let first = batches.first {
            _ = model.topNByFullScoring(first, n: n)
            _ = model.topN(first, n: n)
        }
        var full = [[Int32]]()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for b in batches { full.append(model.topNByFullScoring(b, n: n)) }
        let t1 = DispatchTime.now().uptimeNanoseconds
        var fast = [[Int32]]()
        for b in batches { fast.append(model.topN(b, n: n)) }
        let t2 = DispatchTime.now().uptimeNanoseconds
        var same = 0
        for (f, g) in zip(full, fast) {
            let m = f.count / max(n, 1)
            for r in 0..<m where f[(r * n)..<((r + 1) * n)] == g[(r * n)..<((r + 1) * n)] { same += 1 }
        }
        return InferenceTiming(fullSeconds: Double(t1 - t0) / 1e9, fastSeconds: Double(t2 - t1) / 1e9,
                               sequences: rows, batchSize: batchSize, threads: Kernels.threads, n: n,
                               agreement: rows == 0 ? 1 : Double(same) / Double(rows))
    }
}
