import Foundation
import Evaluation
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

/// A backbone that can also be fine-tuned: backpropagate a loss on its last hidden vectors.
public protocol FineTunableBackbone: HiddenRepresentation {
    /// Like `hiddenLast`, keeping what `backwardHiddenLast` needs.
    func trainingHiddenLast(_ batch: SequenceBatch) -> [Float]
    /// Adds the parameter gradients for dLoss/dHidden (B × hiddenSize) of the latest `trainingHiddenLast`.
    func backwardHiddenLast(_ dHidden: [Float])
}

extension NextItNet: FineTunableBackbone { public var hiddenSize: Int { config.dim } }
extension GRU4Rec: FineTunableBackbone { public var hiddenSize: Int { config.dim } }
extension Caser: FineTunableBackbone { public var hiddenSize: Int { config.dim } }

/// Why fine-tuning could not run.
public enum TransferError: Error, CustomStringConvertible {
    case backboneNotFineTunable(String)
    case tooFewTargetItems(Int, needed: Int)
    public var description: String {
        switch self {
        case .backboneNotFineTunable(let m):
            return
                "finetuneBackbone is set but \(m) cannot backpropagate from its last hidden vector; use a frozen backbone"
        case .tooFewTargetItems(let k, let n):
            return "target domain has \(k - 1) items; ranking needs at least \(n + 1)"
        }
    }
}

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
    /// Also update the backbone (PeterRec's "FineAll"); false trains only the new head ("FineCLS").
    /// Needs a `FineTunableBackbone` (NextItNet and every CpRec variant, GRU4Rec, Caser).
    public var finetuneBackbone = false
    /// Stop after this many epochs without a better validation MRR@5 (nil = run all `epochs`): lets a run from
    /// random weights decide its own length under a large cap.
    public var patience: Int? = nil
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
    /// The same test pairs ranked against every target item: sampled metrics can reorder models (Krichene and
    /// Rendle, KDD 2020), and a target catalogue is small enough to rank in full.
    public var testFull: RankingMetrics
    /// Per test pair: the 0-based sampled rank of the true item (what the report's bootstrap resamples).
    public var testRanks: [Int32] = []
    /// Scalars in the new target-item head (the backbone's count is the pre-trained model's).
    public var headParameters: Int
    /// True when only the head was trained (the backbone's hidden vectors computed once).
    public var backboneFrozen: Bool
    public var seconds: Double
}

/// PeterRec-style transfer: a new target-item output layer on the pre-trained backbone's last hidden vector,
/// trained with sigmoid cross-entropy on 1 positive + sampled negatives, evaluated 1 positive vs 99 negatives.
///
/// With `finetuneBackbone` false (default) the backbone is frozen and its representations are computed once.
/// With it true the backbone (a `FineTunableBackbone`) is updated in place by its own Adam; the best epoch's
/// backbone parameters are restored at the end. Fine-tuning NextItNet/CpRec updates the input layer and the
/// residual blocks; the pre-training output layer gets no gradient.
public enum Transfer {
    /// Hidden vectors of every row of `sequences`: N × backbone.hiddenSize.
    public static func representations(
        _ backbone: any HiddenRepresentation, of sequences: SequenceSet,
        batchSize: Int = 256
    ) -> [Float] {
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

    /// Trains a head W (Kt, d), b (Kt) on `train` and reports sampled-ranking metrics on `test`.
    /// A loss or an update that turns NaN/inf throws `TrainError`, as in pre-training.
    public static func finetune(
        backbone: any HiddenRepresentation, targetItemCount kt: Int, train: TransferPairs,
        validation: TransferPairs? = nil, test: TransferPairs,
        options: TransferOptions = TransferOptions()
    ) throws -> TransferResult {
        guard kt - 2 >= options.evalNegatives else {
            throw TransferError.tooFewTargetItems(kt, needed: options.evalNegatives)
        }
        let tunable: (any FineTunableBackbone)?
        if options.finetuneBackbone {
            guard let t = backbone as? any FineTunableBackbone else {
                throw TransferError.backboneNotFineTunable(String(describing: type(of: backbone)))
            }
            tunable = t
        } else {
            tunable = nil
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let d = backbone.hiddenSize
        let frozenTrainU = tunable == nil ? representations(backbone, of: train.sequences) : []

        let layer = TargetItemHead(items: kt, dim: d, seed: options.seed)
        let head = layer.parameters
        let trained = [head] + (tunable.map { [$0.parameters] } ?? [])
        let loop = EpochLoop(
            optimizers: trained.map { Adam(parameters: $0, config: AdamConfig(learningRate: options.learningRate)) },
            batchSize: options.batchSize, seed: options.seed, salt: 0xA076_1D64_78BD_642F)
        func snapshot() -> [[Float]] { trained.map { Array(UnsafeBufferPointer(start: $0.values, count: $0.count)) } }
        var bestValues = snapshot()

        func score(_ u: UnsafePointer<Float>, _ item: Int32) -> Float { layer.score(u, item) }
        // A frozen backbone's validation representations never change: compute them once.
        let frozenValidU = tunable == nil ? validation.map { representations(backbone, of: $0.sequences) } : nil
        /// Sampled (1 + evalNegatives) and full (every target item) ranking of each pair's true target.
        func rankings(
            _ pairs: TransferPairs, cached: [Float]? = nil
        )
            -> (sampled: RankingMetrics, full: RankingMetrics, ranks: [Int32])
        {
            let reps = cached ?? representations(backbone, of: pairs.sequences)
            var sampled = MetricAccumulator(), full = MetricAccumulator()
            var ranks: [Int32] = []
            var all = [Float](repeating: 0, count: kt)
            reps.withUnsafeBufferPointer { r in
                for (i, pos) in pairs.targets.enumerated() {
                    let u = r.baseAddress! + i * d
                    let negs = SampledRanking.negatives(
                        positive: pos, itemCount: kt, count: options.evalNegatives,
                        seed: options.evalSeed, index: i)
                    let rank = SampledRanking.rank(
                        positive: pos, positiveScore: score(u, pos), negatives: negs,
                        negativeScores: negs.map { score(u, $0) })
                    sampled.add(rank: rank)
                    ranks.append(Int32(rank))
                    for item in 1..<kt { all[item] = score(u, Int32(item)) }
                    full.add(
                        rank: all.withUnsafeBufferPointer {
                            Ranking.rank(scores: $0.baseAddress!, itemCount: kt, target: Int(pos))
                        })
                }
            }
            return (sampled.result, full.result, ranks)
        }
        func evaluate(_ pairs: TransferPairs, cached: [Float]? = nil) -> RankingMetrics {
            rankings(pairs, cached: cached).sampled
        }

        var history = [TransferEpoch]()
        var best = BestEpoch()
        let n = train.targets.count
        for epoch in 1...max(options.epochs, 1) {
            let e0 = DispatchTime.now().uptimeNanoseconds
            // The shuffle's generator goes on to draw the negatives: part of the committed numbers.
            let loss = try loop.run(epoch: epoch, rows: n) { rows, rng in
                let u: [Float]
                if let t = tunable {
                    u = t.trainingHiddenLast(train.sequences.batch(rows))
                } else {
                    u = rows.flatMap { frozenTrainU[($0 * d)..<(($0 + 1) * d)] }
                }
                var du = [Float](repeating: 0, count: tunable == nil ? 0 : rows.count * d)
                let count = Float(rows.count * (1 + options.trainNegatives))
                var batchLoss = 0.0
                u.withUnsafeBufferPointer { r in
                    du.withUnsafeMutableBufferPointer { dub in
                        for (k, idx) in rows.enumerated() {
                            let pos = train.targets[idx]
                            var items = [pos]
                            while items.count < 1 + options.trainNegatives {
                                let c = Int32(1 + rng.int(below: kt - 1))
                                if c != pos { items.append(c) }
                            }
                            batchLoss += layer.lossForwardBackward(
                                u: r.baseAddress! + k * d, items: items, divisor: count,
                                du: dub.isEmpty ? nil : dub.baseAddress! + k * d)
                        }
                    }
                }
                if let t = tunable { t.backwardHiddenLast(du) }
                return (batchLoss, Double(count))
            }
            let v = validation.map { evaluate($0, cached: frozenValidU) }
            history.append(
                TransferEpoch(
                    epoch: epoch, loss: loss, validation: v,
                    seconds: Double(DispatchTime.now().uptimeNanoseconds - e0) / 1e9))
            if best.improves(epoch, v) { bestValues = snapshot() }
            if let p = options.patience, v != nil, best.sinceBest >= p { break }
        }
        for (p, saved) in zip(trained, bestValues) { p.values.update(from: saved, count: p.count) }
        let testMetrics = rankings(test)
        return TransferResult(
            history: history, bestEpoch: best.epoch, test: testMetrics.sampled, testFull: testMetrics.full,
            testRanks: testMetrics.ranks, headParameters: head.count,
            backboneFrozen: tunable == nil,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}
