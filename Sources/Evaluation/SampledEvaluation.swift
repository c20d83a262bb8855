import Models
import Random

/// The sampled protocol of SASRec and the papers that followed it: each test row's target ranked against `count`
/// items the row does not contain, drawn uniformly or in proportion to training popularity. Only for setting our
/// numbers beside published ones: sampled metrics can reorder models (Krichene & Rendle, KDD 2020), so verdicts
/// use full ranking.
public struct NegativeSampler: Sendable {
    public enum Weighting: String, Codable, Sendable, CaseIterable { case uniform, popularity }

    public let itemCount: Int
    public let weighting: Weighting
    /// Running sums of the weights of items 1..<itemCount (popularity only); item i's share is its count.
    private let cumulative: [Double]

    /// `counts[i]`: training interactions of item i (padding 0 ignored); used by `.popularity` only.
    public init(itemCount: Int, weighting: Weighting, counts: [Int] = []) {
        self.itemCount = itemCount
        self.weighting = weighting
        var running = 0.0, c = [Double]()
        if weighting == .popularity {
            precondition(counts.count >= itemCount, "popularity needs a count for each of the \(itemCount) ids")
            c.reserveCapacity(itemCount - 1)
            for i in 1..<itemCount { running += Double(max(counts[i], 0)); c.append(running) }
            precondition(running > 0, "popularity weighting needs at least one item with a training count")
        }
        cumulative = c
    }

    /// `count` distinct items, none in `excluded` (the row's history and target), for test row `index`. Depends
    /// only on (seed, index, excluded, itemCount, weighting), so every model of a dataset ranks against the same lists.
    public func sample(count: Int, excluding excluded: Set<Int32>, seed: UInt64, index: Int) -> [Int32] {
        let available =
            weighting == .uniform
            ? itemCount - 1 - excluded.filter { $0 > 0 && Int($0) < itemCount }.count
            : (1..<itemCount).lazy.filter { !excluded.contains(Int32($0)) && self.weight($0) > 0 }.prefix(count).count
        precondition(available >= count, "need \(count) negatives outside the row, \(available) items can be drawn")
        var rng = Rng(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index &+ 1))
        var out = [Int32](), taken = Set<Int32>()
        out.reserveCapacity(count)
        while out.count < count {
            let c = weighting == .uniform ? Int32(1 + rng.int(below: itemCount - 1)) : draw(&rng)
            if excluded.contains(c) || taken.contains(c) { continue }
            taken.insert(c)
            out.append(c)
        }
        return out
    }

    private func weight(_ item: Int) -> Double { cumulative[item - 1] - (item > 1 ? cumulative[item - 2] : 0) }

    /// An item drawn in proportion to its count: the first whose running sum exceeds a uniform point of the total.
    private func draw(_ rng: inout Rng) -> Int32 {
        let u = rng.uniformDouble() * cumulative[cumulative.count - 1]
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return Int32(lo + 1)
    }
}

extension Evaluator {
    /// Per sampler, per test row (rows whose target is padding skipped, as in `ranks`): the 0-based rank of the
    /// target among itself and `count` negatives from that sampler, excluding every item of the row; ties count
    /// against the target. The test set is scored once for every sampler.
    public static func sampledRanks(
        _ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int,
        samplers: [NegativeSampler], count: Int, seed: UInt64
    ) -> [[Int32]] {
        var out = [[Int32]](repeating: [], count: samplers.count)
        let k = model.itemCount
        scoreBatches(model, on: sequences, batchSize: batchSize) { start, scores, targets in
            for (b, t) in targets.enumerated() where t != 0 {
                let row = start + b
                let items = Set(
                    sequences.ids[(row * sequences.length)..<((row + 1) * sequences.length)].filter { $0 != 0 })
                for (i, sampler) in samplers.enumerated() {
                    let negatives = sampler.sample(count: count, excluding: items, seed: seed, index: row)
                    let rank = SampledRanking.rank(
                        positive: t, positiveScore: scores[b * k + Int(t)], negatives: negatives,
                        negativeScores: negatives.map { scores[b * k + Int($0)] })
                    out[i].append(Int32(rank))
                }
            }
        }
        return out
    }
}
