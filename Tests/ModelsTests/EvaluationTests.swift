import Foundation
import Testing
@testable import Evaluation
@testable import Models
import Kernels
import NeuralNet

@Suite struct EvaluationTests {
    @Test func tiesCountAgainstTheTarget() {
        // items 1..5; padding (id 0) has the highest score and must not count.
        let s: [Float] = [9, 0.1, 0.5, 0.5, 0.3, 0.5]
        s.withUnsafeBufferPointer { p in
            let q = p.baseAddress!
            // 2, 3 and 5 tie at 0.5: each has the other two ahead of it, whatever its id.
            #expect(Ranking.rank(scores: q, itemCount: 6, target: 2) == 2)
            #expect(Ranking.rank(scores: q, itemCount: 6, target: 3) == 2)
            #expect(Ranking.rank(scores: q, itemCount: 6, target: 5) == 2)
            #expect(Ranking.rank(scores: q, itemCount: 6, target: 4) == 3)
            #expect(Ranking.rank(scores: q, itemCount: 6, target: 1) == 4)
        }
        // The top-N list still breaks ties by ascending id (a presentation order, not a metric rule).
        #expect(Ranking.topN(scores: s, rows: 1, itemCount: 6, n: 5) == [2, 3, 5, 4, 1])
    }

    @Test func constantScoresScoreZero() {
        // A collapsed model (all scores equal) must not score like MostPop: every target ranks last.
        let k = 50
        let scores = [Float](repeating: 0.02, count: 4 * k)
        var acc = MetricAccumulator()
        acc.add(scores: scores, itemCount: k, targets: [1, 2, 7, 49])
        #expect(acc.result.hr5 == 0 && acc.result.mrr5 == 0 && acc.result.hr20 == 0 && acc.result.ndcg20 == 0)
        let r = SampledRanking.rank(
            positive: 1, positiveScore: 0.5, negatives: Array(2...100),
            negativeScores: [Float](repeating: 0.5, count: 99))
        #expect(r == 99)
    }

    @Test func nanScoresRankWorst() {
        let s: [Float] = [0, 0.1, .nan, 0.3, 0.2]
        s.withUnsafeBufferPointer { p in
            let q = p.baseAddress!
            // A NaN target is behind every other item; a NaN competitor counts ahead of the target.
            #expect(Ranking.rank(scores: q, itemCount: 5, target: 2) == 3)
            #expect(Ranking.rank(scores: q, itemCount: 5, target: 3) == 1)
        }
        let allNaN = [Float](repeating: .nan, count: 3 * 30)
        var acc = MetricAccumulator()
        acc.add(scores: allNaN, itemCount: 30, targets: [1, 2, 3])
        #expect(acc.result.mrr5 == 0 && acc.result.hr20 == 0)
        #expect(SampledRanking.rank(positive: 5, positiveScore: .nan, negatives: [1, 2], negativeScores: [0, 1]) == 2)
        #expect(SampledRanking.rank(positive: 5, positiveScore: 0.5, negatives: [1, 2], negativeScores: [.nan, 0]) == 1)
    }

    @Test func metricsMatchHandComputedRanks() {
        // Three rows, K = 30 (ids 1..29); target ranks 0, 3 and 25 (outside top 20).
        let k = 30
        var scores = [Float](repeating: 0, count: 3 * k)
        for i in 1..<k {
            scores[i] = Float(100 - i); scores[k + i] = Float(100 - i); scores[2 * k + i] = Float(100 - i)
        }
        let targets: [Int32] = [1, 4, 26]
        var acc = MetricAccumulator()
        acc.add(scores: scores, itemCount: k, targets: targets)
        let m = acc.result
        #expect(m.count == 3)
        #expect(abs(m.mrr5 - (1.0 + 1.0 / 4) / 3) < 1e-12)
        #expect(abs(m.hr5 - 2.0 / 3) < 1e-12)
        #expect(abs(m.ndcg5 - (1.0 + 1 / log2(5.0)) / 3) < 1e-12)
        #expect(abs(m.mrr20 - m.mrr5) < 1e-12)
        #expect(abs(m.hr20 - 2.0 / 3) < 1e-12)
        // Rank 5..19 counts at 20 but not at 5.
        var acc2 = MetricAccumulator()
        acc2.add(rank: 7)
        #expect(acc2.result.hr5 == 0 && acc2.result.mrr5 == 0)
        #expect(acc2.result.hr20 == 1 && abs(acc2.result.mrr20 - 1.0 / 8) < 1e-12)
        #expect(abs(acc2.result.ndcg20 - 1 / log2(9.0)) < 1e-12)
        // Cutoff 10 (SASRec's HR@10 / NDCG@10): rank 7 counts, rank 10 does not, rank 9 does.
        #expect(acc2.result.hr10 == 1 && abs(acc2.result.ndcg10 - 1 / log2(9.0)) < 1e-12)
        var acc3 = MetricAccumulator()
        acc3.add(rank: 10); acc3.add(rank: 9)
        #expect(acc3.result.hr10 == 0.5 && abs(acc3.result.ndcg10 - 0.5 / log2(11.0)) < 1e-12)
        #expect(m.hr10 == 2.0 / 3 && abs(m.ndcg10 - m.ndcg5) < 1e-12)
    }

    @Test func paddingTargetsAreSkipped() {
        var acc = MetricAccumulator()
        acc.add(scores: [0, 1, 2, 0, 1, 2], itemCount: 3, targets: [0, 2])
        #expect(acc.count == 1 && acc.skipped == 1)
        #expect(acc.result.mrr5 == 1)
    }

    @Test func sampledNegativesNeverThePositiveAndDeterministic() {
        for user in 0..<200 {
            let pos = Int32(1 + user % 150)
            let a = SampledRanking.negatives(positive: pos, itemCount: 151, count: 99, seed: 7, index: user)
            let b = SampledRanking.negatives(positive: pos, itemCount: 151, count: 99, seed: 7, index: user)
            #expect(a == b)
            #expect(!a.contains(pos) && !a.contains(0))
            #expect(Set(a).count == 99)
            #expect(a.allSatisfy { $0 >= 1 && $0 < 151 })
        }
        let c = SampledRanking.negatives(positive: 3, itemCount: 1000, seed: 8, index: 0)
        let d = SampledRanking.negatives(positive: 3, itemCount: 1000, seed: 7, index: 0)
        #expect(c != d)
    }

    @Test func oneOfHundredRankingHandCase() {
        // Positive 50 scored 0.7; negatives 1...99 except 50 plus 100: two above (0.9, 0.8), two ties.
        let negatives: [Int32] = Array(1...49) + Array(51...100)
        var negScores = [Float](repeating: 0.1, count: 99)
        negScores[0] = 0.9  // id 1
        negScores[60] = 0.8  // id 62
        negScores[10] = 0.7  // id 11: tie → ahead
        negScores[98] = 0.7  // id 100: tie → ahead too (ties count against the positive whatever the id)
        let r = SampledRanking.rank(positive: 50, positiveScore: 0.7, negatives: negatives, negativeScores: negScores)
        #expect(r == 4)
        var acc = MetricAccumulator()
        acc.add(rank: r)
        acc.add(rank: 0)
        acc.add(rank: 6)
        #expect(abs(acc.result.mrr5 - (0.2 + 1) / 3) < 1e-12)
        #expect(abs(acc.result.hr5 - 2.0 / 3) < 1e-12)
    }
}

@Suite struct InferenceTimingTests {
    @Test func timesBothPathsAndReportsAgreement() throws {
        var c = ModelConfig(kind: .gru4rec)
        c.dim = 8
        let seqs = PlantedSource.make(rows: 30, length: 6, itemCount: 25, seed: 2)
        let m = try ModelFactory.make(c, itemCount: 25, seed: 1)
        let t = InferenceTiming.measure(m, on: seqs, batchSize: 8, n: 5)
        #expect(t.sequences == 30 && t.batchSize == 8 && t.n == 5)
        #expect(t.fullSeconds > 0 && t.fastSeconds > 0)
        #expect(t.agreement == 1)  // full softmax: topN is full scoring
        let limited = InferenceTiming.measure(m, on: seqs, batchSize: 8, n: 5, limit: 10)
        #expect(limited.sequences == 10)
    }

    /// A CpRec output on random weights sharpened so tail items both win and lose against head items: the
    /// default (exact) rule agrees with full scoring on every row while skipping tail blocks.
    @Test func exactRuleAgreesWithFullScoringOnAModel() throws {
        var c = ModelConfig(kind: .nextitnet)
        c.dim = 16
        c.dilations = [1, 2]
        c.output = .blockwise
        c.input = .blockwise
        c.blockFactor = 2
        c.blocks = [30, 80, 200]
        let m = try ModelFactory.make(c, itemCount: 200, seed: 3)
        let tree = try #require(m.treeSoftmax)
        for r in [tree.head] + tree.projections + tree.weights { Kernels.scale(m.parameters.value(r), 6, r.count) }
        let seqs = PlantedSource.make(rows: 300, length: 8, itemCount: 200, seed: 4)
        let t = InferenceTiming.measure(m, on: seqs, batchSize: 64, n: 5)
        #expect(t.agreement == 1)
        #expect(t.rules.map(\.rule) == ["exact", "approximate"])
        let exact = t.rules[0], approx = t.rules[1]
        #expect(exact.agreement == 1)
        #expect(exact.skippedShare > 0 && exact.skippedShare < 1, "skipped \(exact.skippedShare)")
        #expect(approx.skippedShare >= exact.skippedShare)
        #expect(approx.agreement <= 1 && tree.pruning == .exact)
        #expect(try ModelFactory.make(ModelConfig(kind: .nextitnet), itemCount: 20, seed: 1).treeSoftmax == nil)
    }

    /// Every family with a tree softmax exposes it, so its evaluation carries the fast top-N report: SASRec's did
    /// not (it scored through its own copy of `topN`), and 0 of 45 SASRec tree-softmax runs had a report.
    @Test(arguments: [ModelConfig.Kind.nextitnet, .gru4rec, .caser, .sasrec])
    func everyTreeSoftmaxFamilyCarriesTheFastTopNReport(kind: ModelConfig.Kind) throws {
        var c = ModelConfig(kind: kind)
        c.dim = 8
        c.output = .blockwise
        c.blockFactor = 2
        c.blocks = [10, 25, 60]
        if kind == .caser { c.caserWindow = 4 }
        let m = try ModelFactory.make(c, itemCount: 60, seed: 5)
        #expect(m.treeSoftmax != nil)
        let seqs = PlantedSource.make(rows: 20, length: 6, itemCount: 60, seed: 6)
        let t = InferenceTiming.measure(m, on: seqs, batchSize: 8, n: 5)
        #expect(t.rules.map(\.rule) == ["exact", "approximate"])
        #expect(t.rules[0].agreement == 1)
        // The fast path ranks what full scoring ranks under the exact rule.
        let batch = SequenceBatch(ids: Array(seqs.ids.prefix(8 * 6)), batchSize: 8, length: 6)
        #expect(m.topN(batch, n: 5) == m.topNByFullScoring(batch, n: 5))
    }

    /// The constructed case of IOLayerTests through `measure`: rows alternate between a context whose best item
    /// hides in a block the authors' rule skips and one where the head dominates. Approximate: half the rows
    /// agree and 6 of 8 (row, block) pairs are skipped; exact: all agree, 4 of 8 skipped.
    @Test func approximateDisagreementIsCounted() throws {
        // Contexts 1, 2, 1, 2 (odd = row A, even = row B); the targets (7) play no part. Batch 3 splits the rows.
        let seqs = SequenceSet(ids: [1, 7, 2, 7, 1, 7, 2, 7], length: 2)
        let t = InferenceTiming.measure(ConstructedTreeModel(), on: seqs, batchSize: 3, n: 1)
        #expect(t.sequences == 4)
        #expect(t.rules.count == 2)
        #expect(t.rules[0].rule == "exact" && t.rules[0].agreement == 1 && t.rules[0].skippedShare == 0.5)
        #expect(t.rules[1].rule == "approximate" && t.rules[1].agreement == 0.5 && t.rules[1].skippedShare == 0.75)
        #expect(t.agreement == 1)
    }
}

/// A sequence model whose hidden vector is e_0 when the context's last item is odd and e_1 otherwise, over the
/// hand-set tree softmax of `IOLayerTests.constructedTree` (items 1…7; blocks [3, 7, 8]).
final class ConstructedTreeModel: LayeredSequenceModel {
    let parameters = ParameterSet()
    let output: OutputLayer
    var itemCount: Int { 8 }
    init() {
        let layout = BlockLayout(bounds: [3, 7, 8], dim: 2, factor: 1)
        let tree = TreeSoftmax(parameters, prefix: "out", layout: layout, dim: 2)
        var rng = Rng(seed: 1)
        parameters.allocate(rng: &rng)
        parameters.values.update(repeating: 0, count: parameters.count)
        let a: [Double] = [1e-9, 0.2, 0.05, 0.45, 0.3], b: [Double] = [1e-9, 0.6, 0.1, 0.2, 0.1]
        let h = parameters.value(tree.head)
        for j in 0..<5 { h[j] = Float(log(a[j])); h[5 + j] = Float(log(b[j])) }
        output = tree
    }
    func hiddenLast(_ batch: SequenceBatch) -> [Float] {
        (0..<batch.batchSize).flatMap { r -> [Float] in
            batch.ids[r * batch.length + batch.length - 1] % 2 == 1 ? [1, 0] : [0, 1]
        }
    }
    func trainStep(_ batch: SequenceBatch) -> Float { 0 }
}
