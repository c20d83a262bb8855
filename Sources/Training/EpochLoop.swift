import Evaluation
import NeuralNet
import Random

/// One shuffled mini-batch pass over a training set: the epoch of both `Trainer` and `Transfer.finetune`.
struct EpochLoop {
    /// Updated after every step; their parameters are the ones zeroed and checked.
    let optimizers: [Adam]
    let batchSize: Int
    let seed: UInt64
    /// Mixed with the epoch into the shuffle's seed. Each caller has its own, and the committed results depend on
    /// it: never change one.
    let salt: UInt64

    func steps(rows: Int) -> Int { (rows + batchSize - 1) / batchSize }

    /// Runs `step` on each batch of a `Rng(seed ⊕ salt·epoch)` shuffle of 0..<rows and returns Σloss / Σweight.
    /// `step` gets the shuffle's generator so that what it samples continues one reproducible sequence, and
    /// returns its batch's loss with the weight that loss carries in the mean. `afterStep` gets the 1-based step
    /// and the mean so far.
    func run(
        epoch: Int, rows: Int, afterStep: ((_ step: Int, _ meanLoss: Double) -> Void)? = nil,
        step: (_ rows: ArraySlice<Int>, _ rng: inout Rng) throws -> (loss: Double, weight: Double)
    ) throws -> Double {
        var order = Array(0..<rows)
        var rng = Rng(seed: seed ^ (salt &* UInt64(epoch)))
        rng.shuffle(&order)
        var lossSum = 0.0, weightSum = 0.0
        for s in 0..<steps(rows: rows) {
            for o in optimizers { o.parameters.zeroGrads() }
            let (loss, weight) = try step(order[(s * batchSize)..<min(rows, (s + 1) * batchSize)], &rng)
            guard loss.isFinite else { throw TrainError.nonFiniteLoss(epoch: epoch) }
            for o in optimizers { o.update() }
            // The loss above was computed before this update; a non-finite update would otherwise reach the
            // kept parameters and could be selected as the best epoch.
            for o in optimizers {
                if let bad = o.parameters.firstNonFinite() {
                    throw TrainError.nonFiniteParameters(epoch: epoch, step: s + 1, parameter: bad)
                }
            }
            lossSum += loss
            weightSum += weight
            afterStep?(s + 1, lossSum / weightSum)
        }
        return weightSum > 0 ? lossSum / weightSum : 0
    }
}

/// The best epoch so far by selection MRR@5, and how many epochs have not beaten it.
struct BestEpoch {
    var epoch = 0
    var score = -1.0
    var sinceBest = 0

    /// Records an epoch's selection metrics; true when it is the new best. Without metrics (no validation set)
    /// every epoch counts as better, so the last one is kept and patience never runs out.
    mutating func improves(_ epoch: Int, _ metrics: RankingMetrics?) -> Bool {
        let score = metrics?.mrr5 ?? Double(epoch)
        guard score > self.score else {
            sinceBest += 1
            return false
        }
        (self.epoch, self.score, sinceBest) = (epoch, score, 0)
        return true
    }

    func patienceRanOut(after epoch: Int, patience: Int, minEpochs: Int) -> Bool {
        sinceBest >= patience && epoch >= minEpochs
    }
}
