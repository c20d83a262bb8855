import Foundation
import Kernels
import Models
import NeuralNet

/// Full-ranking evaluation of a next-item model on held-out sequences (last item of each row is the target).
public enum Evaluator {
    /// Ranks all items (padding excluded) for the last item of every row of `sequences`, in batches.
    /// - Parameter limit: evaluate only the first `limit` rows (nil = all).
    public static func evaluate(
        _ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int,
        limit: Int? = nil
    ) -> RankingMetrics {
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
    public static func negatives(positive: Int32, itemCount: Int, count: Int = 99, seed: UInt64, index: Int) -> [Int32]
    {
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

/// One fast top-N rule of the tree softmax measured against full scoring.
public struct FastTopNReport: Codable, Hashable, Sendable {
    /// `exact` or `approximate` (`TopNPruning`).
    public var rule: String
    /// Seconds for the model's `topN` under this rule over the timed rows. A wall time, so the evaluate stage
    /// keeps it out of its hashed output (nil there) and in its manifest's measurements.
    public var seconds: Double?
    /// Share of rows whose top-N list equals the full ranking's, order included.
    public var agreement: Double
    /// Share of (row, tail block) evaluations the rule skipped.
    public var skippedShare: Double
}

/// Wall time to produce the top-N list for every test sequence, by full scoring and by the model's `topN`.
public struct InferenceTiming: Codable, Hashable, Sendable {
    /// Seconds for scoreLast over all items followed by top-N selection.
    public var fullSeconds: Double
    /// Seconds for the model's `topN` (the tree softmax's exact pruned path for block-wise softmax models).
    public var fastSeconds: Double
    public var sequences: Int
    public var batchSize: Int
    public var threads: Int
    public var n: Int
    /// Fraction of rows whose fast top-N list equals the full-scoring list exactly.
    public var agreement: Double
    /// Tree-softmax models: every pruning rule (the default first), each against full scoring; empty otherwise.
    public var rules: [FastTopNReport] = []

    /// Speedup of `model`'s fast top-N path over `baseline`'s top-N, timed in alternation (`rounds` each,
    /// medians) so both see the same machine load; returns (baseline seconds, model seconds).
    public static func paired(
        baseline: any SequenceModel, model: any SequenceModel, on sequences: SequenceSet,
        batchSize: Int, n: Int = 5, rounds: Int = 5
    ) -> (baseline: Double, model: Double) {
        var b = [Double](), m = [Double]()
        for _ in 0..<max(rounds, 1) {
            // The reference's own top-N path (a flat softmax ranks its logits), as the model's is its fast path.
            b.append(measure(baseline, on: sequences, batchSize: batchSize, n: n, rules: false).fastSeconds)
            m.append(measure(model, on: sequences, batchSize: batchSize, n: n, rules: false).fastSeconds)
        }
        return (median(b), median(m))
    }

    /// The paper's latency setting: top-`n` of one sequence at a time (test batch 1), `baseline`'s `topN` (full
    /// scoring for a full softmax) and `model`'s fast `topN` called alternately on the same rows, so both see the
    /// same load. Stops after `maxRows` rows or once both together have spent `budgetSeconds`; returns the median
    /// seconds per row of each and the rows timed.
    public static func pairedLatency(
        baseline: any SequenceModel, model: any SequenceModel, on sequences: SequenceSet,
        n: Int = 5, maxRows: Int = 500, budgetSeconds: Double = 2
    )
        -> (baseline: Double, model: Double, rows: Int)
    {
        let rows = min(maxRows, sequences.count)
        guard rows > 0 else { return (.nan, .nan, 0) }
        let one = { (i: Int) in sequences.contextAndTargets(i..<(i + 1)).context }
        // Warm-up: batch-1 workspaces are sized by the first call.
        _ = baseline.topN(one(0), n: n)
        _ = model.topN(one(0), n: n)
        var b = [Double](), m = [Double](), spent = 0.0
        for i in 0..<rows {
            let batch = one(i)
            // Alternate which goes first so neither always runs on a cache the other just warmed.
            for first in i % 2 == 0 ? [true, false] : [false, true] {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = (first ? baseline : model).topN(batch, n: n)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if first { b.append(dt) } else { m.append(dt) }
                spent += dt
            }
            if spent > budgetSeconds { break }
        }
        return (median(b), median(m), b.count)
    }

    static func median(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.sorted()[x.count / 2] }

    /// Times both paths on the context (all but the last item) of every row of `sequences`. With `rules`, a
    /// tree-softmax model is also run under every pruning rule and each is compared with full scoring.
    public static func measure(
        _ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int, n: Int = 5,
        limit: Int? = nil, rules: Bool = true
    ) -> InferenceTiming {
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
        let same = zip(full, fast).reduce(0) { $0 + TopN.matchingRows($1.0, $1.1, n: n) }
        var timing = InferenceTiming(
            fullSeconds: Double(t1 - t0) / 1e9, fastSeconds: Double(t2 - t1) / 1e9,
            sequences: rows, batchSize: batchSize, threads: Kernels.threads, n: n,
            agreement: rows == 0 ? 1 : Double(same) / Double(rows))
        if rules, let tree = model.treeSoftmax {
            let saved = tree.pruning
            defer { tree.pruning = saved }
            for rule in [saved] + [TopNPruning.exact, .approximate].filter({ $0 != saved }) {
                tree.pruning = rule
                var same = 0, evaluated = 0, pairs = 0
                let s0 = DispatchTime.now().uptimeNanoseconds
                for (b, f) in zip(batches, full) {
                    let got = model.topN(b, n: n)
                    evaluated += tree.lastTailEvaluations
                    pairs += tree.lastTailPairs
                    same += TopN.matchingRows(f, got, n: n)
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e9
                timing.rules.append(
                    FastTopNReport(
                        rule: rule.rawValue, seconds: seconds,
                        agreement: rows == 0 ? 1 : Double(same) / Double(rows),
                        skippedShare: pairs == 0 ? 0 : 1 - Double(evaluated) / Double(pairs)))
            }
        }
        return timing
    }
}
