import Foundation
import Testing
@testable import Evaluation
@testable import Models
import Kernels

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
        let r = SampledRanking.rank(positive: 1, positiveScore: 0.5, negatives: Array(2...100),
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
        for i in 1..<k { scores[i] = Float(100 - i); scores[k + i] = Float(100 - i); scores[2 * k + i] = Float(100 - i) }
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
        negScores[0] = 0.9    // id 1
        negScores[60] = 0.8   // id 62
        negScores[10] = 0.7   // id 11: tie → ahead
        negScores[98] = 0.7   // id 100: tie → ahead too (ties count against the positive whatever the id)
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
        Kernels.setThreads(1)
        var c = ModelConfig(kind: .gru4rec)
        c.dim = 8
        let seqs = PlantedSource.make(rows: 30, length: 6, itemCount: 25, seed: 2)
        let m = try ModelFactory.make(c, itemCount: 25, seed: 1)
        let t = InferenceTiming.measure(m, on: seqs, batchSize: 8, n: 5)
        #expect(t.sequences == 30 && t.batchSize == 8 && t.n == 5)
        #expect(t.fullSeconds > 0 && t.fastSeconds > 0)
        #expect(t.agreement == 1)   // full softmax: topN is full scoring
        let limited = InferenceTiming.measure(m, on: seqs, batchSize: 8, n: 5, limit: 10)
        #expect(limited.sequences == 10)
    }
}
