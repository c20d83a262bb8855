import Testing
@testable import Evaluation
@testable import Models

/// The sampled protocol (SASRec's 1 positive + N negatives the row does not contain), on hand-computed cases.
@Suite struct SampledEvaluationTests {
    /// Five items, three negatives per row: a row excludes its own two items, so the negatives are exactly the other
    /// three and the ranks follow from MostPop's counts [_, 1, 2, 4, 1, 0] by hand.
    @Test func ranksAgainstEveryItemOutsideTheRow() {
        let train = SequenceSet(rows: [[3, 3, 1], [3, 2, 2], [0, 4, 3]], length: 3)
        let m = MostPop(itemCount: 6, trainSequences: train)
        let test = SequenceSet(rows: [[1, 3], [2, 4], [1, 5]], length: 2)
        let sampler = NegativeSampler(itemCount: 6, weighting: .uniform)
        let ranks = Evaluator.sampledRanks(m, on: test, batchSize: 2, samplers: [sampler], count: 3, seed: 7)[0]
        // Target 3 (count 4) beats 2, 4, 5: rank 0. Target 4 (count 1) is behind 3, tied with 1 (a tie counts
        // against it), ahead of 5: rank 2. Target 5 (count 0) is behind 2, 3 and 4: rank 3.
        #expect(ranks == [0, 2, 3])
        // The negatives are a subset of all items, so a sampled rank never exceeds the full-ranking one.
        let full = Evaluator.ranks(m, on: test, batchSize: 2)
        #expect(full == [0, 3, 4] && zip(ranks, full).allSatisfy { $0 <= $1 })
    }

    @Test func negativesAreDistinctOutsideTheRowAndTheSameForEveryCaller() {
        let sampler = NegativeSampler(itemCount: 201, weighting: .uniform)
        let excluded = Set((1...150).map(Int32.init))
        let all = sampler.sample(count: 50, excluding: excluded, seed: 3, index: 9)
        #expect(Set(all) == Set((151...200).map(Int32.init)) && all.count == 50)
        let some = sampler.sample(count: 20, excluding: [5, 6], seed: 3, index: 4)
        #expect(Set(some).count == 20 && !some.contains(5) && !some.contains(6) && !some.contains(0))
        #expect(some == sampler.sample(count: 20, excluding: [5, 6], seed: 3, index: 4))
        #expect(some != sampler.sample(count: 20, excluding: [5, 6], seed: 3, index: 5))
    }

    /// Popularity weighting draws an item in proportion to its count, and never one with no interactions.
    @Test func popularityWeightingFollowsTheCounts() {
        let sampler = NegativeSampler(itemCount: 5, weighting: .popularity, counts: [0, 0, 10, 30, 60])
        var seen = [Int](repeating: 0, count: 5)
        for i in 0..<20_000 { seen[Int(sampler.sample(count: 1, excluding: [], seed: 11, index: i)[0])] += 1 }
        #expect(seen[0] == 0 && seen[1] == 0)
        #expect(abs(Double(seen[2]) / 20_000 - 0.1) < 0.01)
        #expect(abs(Double(seen[3]) / 20_000 - 0.3) < 0.015)
        #expect(abs(Double(seen[4]) / 20_000 - 0.6) < 0.015)
        // Excluding the most popular item renormalises over the rest: 10 : 30.
        var rest = [Int](repeating: 0, count: 5)
        for i in 0..<8_000 { rest[Int(sampler.sample(count: 1, excluding: [4], seed: 11, index: i)[0])] += 1 }
        #expect(rest[4] == 0 && abs(Double(rest[2]) / 8_000 - 0.25) < 0.02)
    }
}
