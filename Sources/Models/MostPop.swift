import Foundation
import Kernels
import NeuralNet

/// MostPop baseline: every sequence gets the same list, items ranked by training-set frequency.
public final class MostPop: SequenceModel {
    public let parameters = ParameterSet()
    public let itemCount: Int
    /// Occurrences of each item id in the training sequences (index 0, padding, is always 0).
    public let counts: [Int]
    /// Popularity distribution over items (padding 0 has probability 0; rows of `scoreLast` equal it).
    public let probabilities: [Float]

    /// Counts every non-padding id of `trainSequences` (ids must be < itemCount).
    public init(itemCount: Int, trainSequences: SequenceSet) {
        precondition(itemCount >= 2)
        self.itemCount = itemCount
        var c = [Int](repeating: 0, count: itemCount)
        for id in trainSequences.ids where id > 0 {
            precondition(Int(id) < itemCount, "item id \(id) ≥ itemCount \(itemCount)")
            c[Int(id)] += 1
        }
        counts = c
        let total = c.reduce(0, +)
        if total == 0 {
            // No data: uniform over real items keeps "rows sum to 1" true.
            probabilities = [0] + [Float](repeating: 1 / Float(itemCount - 1), count: itemCount - 1)
        } else {
            probabilities = c.map { Float(Double($0) / Double(total)) }
        }
        var rng = Rng(seed: 0)
        parameters.allocate(rng: &rng)
    }

    /// Nothing to learn; returns the popularity model's mean negative log-likelihood of the targets
    /// (add-one smoothed so unseen items give a finite value).
    public func trainStep(_ batch: SequenceBatch) -> Float {
        let total = Double(counts.reduce(0, +) + itemCount - 1)
        var nll = 0.0
        var n = 0
        for b in 0..<batch.batchSize {
            for t in 1..<batch.length {
                let y = Int(batch.ids[b * batch.length + t])
                guard y > 0 else { continue }
                nll -= log(Double(counts[y] + 1) / total)
                n += 1
            }
        }
        return n == 0 ? 0 : Float(nll / Double(n))
    }

    public func scoreLast(_ batch: SequenceBatch) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(batch.batchSize * itemCount)
        for _ in 0..<batch.batchSize { out.append(contentsOf: probabilities) }
        return out
    }

    private lazy var ranked: [Int32] = {
        let order = (1..<itemCount).sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        return order.map { Int32($0) }
    }()

    /// The popularity list, cut to `n`, for every row (no scoring needed).
    public func topN(_ batch: SequenceBatch, n: Int) -> [Int32] {
        let head = Array(ranked.prefix(n))
        var out = [Int32]()
        out.reserveCapacity(batch.batchSize * head.count)
        for _ in 0..<batch.batchSize { out.append(contentsOf: head) }
        return out
    }
}
