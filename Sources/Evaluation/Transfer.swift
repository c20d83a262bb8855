import Foundation
import Kernels
import Models
import NeuralNet

/// A model that exposes its hidden vector after the last position (the transferable user representation).
public protocol HiddenRepresentation: SequenceModel {
    /// Width of `hiddenLast` rows.
    var hiddenSize: Int { get }
    /// B × hiddenSize vectors after the last position of each sequence.
    func hiddenLast(_ batch: SequenceBatch) -> [Float]
}

extension NextItNet: HiddenRepresentation { public var hiddenSize: Int { config.dim } }
extension GRU4Rec: HiddenRepresentation { public var hiddenSize: Int { config.dim } }
extension Caser: HiddenRepresentation { public var hiddenSize: Int { config.dim } }

/// Target-domain pairs: each user's source-domain behaviour sequence and one target-domain item.
public struct TransferPairs: Sendable {
    /// Source sequences (left-padded, source vocabulary), one row per user.
    public var sequences: SequenceSet
    /// The user's target item, in 1..<targetItemCount.
    public var targets: [Int32]
    public init(sequences: SequenceSet, targets: [Int32]) {
        precondition(sequences.count == targets.count, "one target per sequence")
        self.sequences = sequences
        self.targets = targets
    }

    /// From rows of t source ids followed by the target id (the `prep` stage's transfer layout, length t + 1).
    public init(rowsWithTarget rows: SequenceSet) {
        precondition(rows.length >= 2, "transfer rows need at least one source id and the target")
        let (context, targets) = rows.contextAndTargets(0..<rows.count)
        self.init(sequences: SequenceSet(ids: context.ids, length: context.length), targets: targets)
    }
}

/// Fine-tuning settings (PeterRec protocol defaults).
public struct TransferOptions: Codable, Hashable, Sendable {
    public var epochs = 10
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// Sampled negatives per positive in the sigmoid cross-entropy (PeterRec: 1).
    public var trainNegatives = 1
    /// Negatives each test positive is ranked against (PeterRec: 99).
    public var evalNegatives = 99
    public var seed: UInt64 = 1
    /// Seed of the evaluation negatives: keep it fixed across models so they are ranked on the same lists.
    public var evalSeed: UInt64 = 20_200_401
    public init() {}
}

/// One fine-tuning epoch.
public struct TransferEpoch: Codable, Hashable, Sendable {
    public var epoch: Int
    public var loss: Double
    /// Sampled-ranking metrics on the validation pairs (when given).
    public var validation: RankingMetrics?
    public var seconds: Double
}

/// Outcome of `Transfer.finetune`.
public struct TransferResult: Codable, Hashable, Sendable {
    public var history: [TransferEpoch]
    /// Epoch whose head was kept (best validation MRR@5, or the last epoch without validation pairs).
    public var bestEpoch: Int
    /// Sampled-ranking metrics (1 positive vs `evalNegatives`) on the test pairs; MRR@5 / HR@5 are Table 6's.
    public var test: RankingMetrics
    /// Scalars in the new target-item head (the backbone's count is the pre-trained model's).
    public var headParameters: Int
    /// Always true in this implementation: the backbone's hidden vectors are computed once and not updated.
    public var backboneFrozen: Bool
    public var seconds: Double
}

/// PeterRec-style transfer: a new target-item output layer on the pre-trained backbone's last hidden vector,
/// trained with sigmoid cross-entropy on 1 positive + sampled negatives, evaluated 1 positive vs 99 negatives.
///
/// The backbone is frozen (its representations are computed once): backpropagating into NextItNet from its
/// last hidden vector is not exposed by the engine, so PeterRec's full fine-tuning is not offered.
public enum Transfer {
    /// Hidden vectors of every row of `sequences`: N × backbone.hiddenSize.
    public static func representations(_ backbone: any HiddenRepresentation, of sequences: SequenceSet,
                                       batchSize: Int = 256) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(sequences.count * backbone.hiddenSize)
        var start = 0
        while start < sequences.count {
            let end = min(sequences.count, start + batchSize)
            out.append(contentsOf: backbone.hiddenLast(sequences.batch(start..<end)))
            start = end
        }
        return out
    }

    /// Trains a head W (d, Kt), b (Kt) on `train` and reports sampled-ranking metrics on `test`.
    public static func finetune(backbone: any HiddenRepresentation, targetItemCount kt: Int, train: TransferPairs,
                                validation: TransferPairs? = nil, test: TransferPairs,
                                options: TransferOptions = TransferOptions()) -> TransferResult {
        precondition(kt - 2 >= options.evalNegatives, "target domain needs more than \(options.evalNegatives + 1) items")
        let t0 = DispatchTime.now().uptimeNanoseconds
        let d = backbone.hiddenSize
        let trainU = representations(backbone, of: train.sequences)
        let validU = validation.map { representations(backbone, of: $0.sequences) }
        let testU = representations(backbone, of: test.sequences)

        let head = ParameterSet()
        let w = head.declare("target.w", [kt, d], .output, .normal(std: 0.01))   // row per item: contiguous dots
        let b = head.declare("target.b", [kt], .output, .zeros)
        var initRng = Rng(seed: options.seed)
        head.allocate(rng: &initRng)
        let adam = Adam(parameters: head, config: AdamConfig(learningRate: options.learningRate))
        let best = UnsafeMutablePointer<Float>.allocate(capacity: head.count)
        defer { best.deallocate() }
        best.update(from: head.values, count: head.count)

        func score(_ u: UnsafePointer<Float>, _ item: Int32) -> Float {
            let wi = head.value(w) + Int(item) * d
            var s = head.value(b)[Int(item)]
            for j in 0..<d { s += u[j] * wi[j] }
            return s
        }
        func evaluate(_ pairs: TransferPairs, _ reps: [Float]) -> RankingMetrics {
            var acc = MetricAccumulator()
            reps.withUnsafeBufferPointer { r in
                for (i, pos) in pairs.targets.enumerated() {
                    let u = r.baseAddress! + i * d
                    let negs = SampledRanking.negatives(positive: pos, itemCount: kt, count: options.evalNegatives,
                                                        seed: options.evalSeed, index: i)
                    let rank = SampledRanking.rank(positive: pos, positiveScore: score(u, pos), negatives: negs,
                                                   negativeScores: negs.map { score(u, $0) })
                    acc.add(rank: rank)
                }
            }
            return acc.result
        }

        var history = [TransferEpoch]()
        var bestEpoch = 0, bestScore = -1.0
        let n = train.targets.count
        for epoch in 1...max(options.epochs, 1) {
            let e0 = DispatchTime.now().uptimeNanoseconds
            var rng = Rng(seed: options.seed ^ (0xA076_1D64_78BD_642F &* UInt64(epoch)))
            var order = Array(0..<n)
            rng.shuffle(&order)
            var lossSum = 0.0, pairs = 0
            var start = 0
            while start < n {
                let end = min(n, start + options.batchSize)
                head.zeroGrads()
                let count = Float((end - start) * (1 + options.trainNegatives))
                var batchLoss = 0.0
                trainU.withUnsafeBufferPointer { r in
                    let dw = head.grad(w), db = head.grad(b)
                    for idx in order[start..<end] {
                        let u = r.baseAddress! + idx * d
                        let pos = train.targets[idx]
                        var items = [pos]
                        while items.count < 1 + options.trainNegatives {
                            let c = Int32(1 + rng.int(below: kt - 1))
                            if c != pos { items.append(c) }
                        }
                        for (k, item) in items.enumerated() {
                            let y: Float = k == 0 ? 1 : 0
                            let s = score(u, item)
                            // Stable log(1 + e^-|s|) form of the sigmoid cross-entropy.
                            batchLoss += Double(max(s, 0) - s * y + log1pf(expf(-abs(s))))
                            let g = (1 / (1 + expf(-s)) - y) / count
                            let dwi = dw + Int(item) * d
                            for j in 0..<d { dwi[j] += g * u[j] }
                            db[Int(item)] += g
                        }
                    }
                }
                adam.update()
                lossSum += batchLoss
                pairs += Int(count)
                start = end
            }
            let v = validation.map { evaluate($0, validU!) }
            history.append(TransferEpoch(epoch: epoch, loss: lossSum / Double(max(pairs, 1)), validation: v,
                                         seconds: Double(DispatchTime.now().uptimeNanoseconds - e0) / 1e9))
            let selected = v?.mrr5 ?? Double(epoch)   // without validation: keep the last epoch
            if selected > bestScore {
                bestScore = selected
                bestEpoch = epoch
                best.update(from: head.values, count: head.count)
            }
        }
        head.values.update(from: best, count: head.count)
        let testMetrics = evaluate(test, testU)
        return TransferResult(history: history, bestEpoch: bestEpoch, test: testMetrics, headParameters: head.count,
                              backboneFrozen: true, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}
