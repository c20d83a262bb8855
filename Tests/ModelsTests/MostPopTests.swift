import Testing
@testable import Evaluation
@testable import Models

@Suite struct MostPopTests {
    @Test func ranksByPopularityAndScoresSumToOne() {
        let train = SequenceSet(rows: [[3, 3, 1], [3, 2, 2], [0, 4, 3]], length: 3)
        let m = MostPop(itemCount: 6, trainSequences: train)
        #expect(m.counts == [0, 1, 2, 4, 1, 0])
        let batch = SequenceBatch(ids: [1, 2, 0, 0], batchSize: 2, length: 2)
        let scores = m.scoreLast(batch)
        for b in 0..<2 {
            let row = scores[(b * 6)..<((b + 1) * 6)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        }
        #expect(m.topN(batch, n: 4) == [3, 2, 1, 4, 3, 2, 1, 4])
        #expect(m.topNByFullScoring(batch, n: 4) == m.topN(batch, n: 4))
        // Evaluated: target 3 → rank 0, target 4 → rank 3 (tied with 1, higher id), target 5 → rank 4.
        let test = SequenceSet(rows: [[1, 3], [2, 4], [1, 5]], length: 2)
        let r = Evaluator.evaluate(m, on: test, batchSize: 2)
        #expect(abs(r.mrr5 - (1 + 0.25 + 0.2) / 3) < 1e-9)
    }
}
