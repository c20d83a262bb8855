import Foundation
import Evaluation
import Kernels
import Models
import NeuralNet

/// Training settings beyond the model config; part of the train stage's cache key.
public struct TrainOptions: Codable, Hashable, Sendable {
    /// How the reported epoch is chosen.
    public enum Selection: String, Codable, Sendable {
        /// Best validation MRR@5 (default; the test set is never looked at during training).
        case validation
        /// Best test MRR@5, as the authors' code does (it evaluates the test set after every epoch).
        case paper
    }
    public var batchSize = 128
    public var maxEpochs = 20
    /// Stop after this many epochs without a better selection MRR@5 ...
    public var patience = 3
    /// ... but never before this many epochs: a model's validation curve is often flat while it first learns
    /// item popularity, and stopping there leaves a popularity model.
    public var minEpochs = 1
    public var learningRate: Float = 1e-3
    /// The authors' L2 term coefficient (0.001 in CpRec's code; 0 = off).
    public var l2: Float = 0
    public var seed: UInt64 = 1
    public var selection: Selection = .validation
    /// Batch size for the per-epoch evaluation.
    public var evalBatchSize = 256
    /// Evaluate at most this many rows per epoch (nil = all).
    public var evalLimit: Int? = nil
    /// Report progress every this many steps inside an epoch (nil = once per epoch only).
    public var progressEvery: Int? = nil
    /// Stop after this many epochs of *this call* (simulates a kill in tests; nil = run to the end).
    public var stopAfterEpochs: Int? = nil

    public init() {}
}

/// One epoch's log line.
public struct EpochRecord: Codable, Hashable, Sendable {
    public var epoch: Int
    /// Mean training loss over the epoch's steps.
    public var loss: Double
    public var validation: RankingMetrics?
    /// Present with `selection: paper` (the test metrics the authors' code prints each epoch).
    public var test: RankingMetrics?
    /// Wall seconds for the epoch, training plus its evaluation.
    public var seconds: Double
}

/// What a training run produced.
public struct TrainResult: Codable, Hashable, Sendable {
    public var history: [EpochRecord]
    /// 1-based epoch whose parameters were kept (0 for models without parameters).
    public var bestEpoch: Int
    /// Selection metrics (validation or test, per `selection`) of the best epoch.
    public var bestMetrics: RankingMetrics
    public var selection: TrainOptions.Selection
    /// Wall seconds to the end of the best epoch, and for the whole run (summed over resumed runs).
    public var secondsToBest: Double
    public var totalSeconds: Double
    /// True when patience ran out before `maxEpochs`.
    public var stoppedEarly: Bool
    /// Epoch the last call resumed after (0 = fresh start).
    public var resumedAfterEpoch: Int
    /// The best parameters (a `Checkpoint` file without optimizer state).
    public var checkpoint: URL
}

/// A progress report: once per epoch (validation set) and optionally every N steps (validation nil).
public struct TrainProgress: Sendable {
    public var epoch: Int
    public var maxEpochs: Int
    public var step: Int
    public var stepsPerEpoch: Int
    public var loss: Double
    public var validation: RankingMetrics?
    /// Fraction of `maxEpochs` done (an upper bound on work; early stopping ends sooner).
    public var fraction: Double {
        (Double(epoch - 1) + Double(step) / Double(max(stepsPerEpoch, 1))) / Double(max(maxEpochs, 1))
    }
    /// "epoch 3/20 loss 4.1000 MRR@5 0.1200".
    public var message: String {
        var s = "epoch \(epoch)/\(maxEpochs)"
        if validation == nil && step < stepsPerEpoch { s += " step \(step)/\(stepsPerEpoch)" }
        s += String(format: " loss %.4f", loss)
        if let v = validation { s += String(format: " MRR@5 %.4f HR@5 %.4f", v.mrr5, v.hr5) }
        return s
    }
}

/// Errors a training or fine-tuning run reports.
public enum TrainError: Error, CustomStringConvertible {
    case missingTestSet
    case emptyTraining
    case nonFiniteLoss(epoch: Int)
    case nonFiniteParameters(epoch: Int, step: Int, parameter: String)
    public var description: String {
        switch self {
        case .missingTestSet: return "selection 'paper' selects on the test set, but no test sequences were given"
        case .emptyTraining: return "no training sequences"
        case .nonFiniteLoss(let e): return "training loss became NaN/inf in epoch \(e); lower the learning rate"
        case .nonFiniteParameters(let e, let s, let p):
            return "parameter \(p) became NaN/inf after step \(s) of epoch \(e); lower the learning rate"
        }
    }
}

/// Adam training with early stopping, best-checkpoint keeping and epoch-level resume.
///
/// Resume: after every epoch the work directory gets `last-<e>.ckpt` (parameters + Adam moments),
/// `best-<e>.ckpt` when the epoch improved, then `state.json` (history, counters) by atomic rename; the
/// state file names the checkpoints, so a kill between writes leaves the previous consistent state. The
/// shuffle of epoch e comes from `Rng(seed ⊕ salt·e)` (EpochLoop), so no generator state needs saving: a single-thread
/// resumed
/// run ends bit-identical to an uninterrupted one. A state written with different `TrainOptions` is ignored
/// (training starts over); a checkpoint written for a different `ModelConfig` is an error.
public enum Trainer {
    struct State: Codable {
        var history: [EpochRecord] = []
        // `best`'s fields, stored flat so a state.json written before `BestEpoch` existed still resumes.
        var bestEpoch = 0
        var bestScore = -1.0
        var bestMetrics = RankingMetrics()
        var sinceBest = 0
        var finished = false
        var stoppedEarly = false
        var lastCheckpoint: String?
        var bestCheckpoint: String?
        /// The options this state was produced with (minus `stopAfterEpochs`); a mismatch restarts training.
        var options: TrainOptions?

        var best: BestEpoch {
            get { BestEpoch(epoch: bestEpoch, score: bestScore, sinceBest: sinceBest) }
            set { (bestEpoch, bestScore, sinceBest) = (newValue.epoch, newValue.score, newValue.sinceBest) }
        }
    }

    /// Trains `model` (built from `config`) on `train`; see the type's comment for selection and resume.
    /// After return the model holds the best epoch's parameters.
    public static func train(
        _ model: any SequenceModel, config: ModelConfig, train: SequenceSet,
        validation: SequenceSet, test: SequenceSet? = nil, options: TrainOptions,
        workDirectory: URL, progress: ((TrainProgress) -> Void)? = nil
    ) throws -> TrainResult {
        if options.selection == .paper && test == nil { throw TrainError.missingTestSet }
        guard train.count > 0 else { throw TrainError.emptyTraining }
        let run = try Run(
            model, config: config, validation: validation, test: test, options: options,
            workDirectory: workDirectory)
        // Models without parameters (MostPop) are evaluated once as "epoch 0".
        if model.parameters.count == 0 { return try run.evaluateOnly() }
        var epochsThisCall = 0
        while !run.state.finished {
            let epoch = (run.state.history.last?.epoch ?? 0) + 1
            let t0 = DispatchTime.now().uptimeNanoseconds
            let steps = run.loop.steps(rows: train.count)
            let loss = try run.loop.run(
                epoch: epoch, rows: train.count,
                afterStep: { s, mean in
                    if let every = options.progressEvery, every > 0, s % every == 0, s < steps {
                        progress?(
                            TrainProgress(
                                epoch: epoch, maxEpochs: options.maxEpochs, step: s, stepsPerEpoch: steps,
                                loss: mean, validation: nil))
                    }
                }
            ) { rows, _ in (Double(model.trainStep(train.batch(rows))), 1) }
            let (v, t) = run.evaluate()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let selected = try run.finishEpoch(
                EpochRecord(epoch: epoch, loss: loss, validation: v, test: t, seconds: seconds))
            progress?(
                TrainProgress(
                    epoch: epoch, maxEpochs: options.maxEpochs, step: steps, stepsPerEpoch: steps,
                    loss: loss, validation: selected))
            epochsThisCall += 1
            if let stop = options.stopAfterEpochs, epochsThisCall >= stop, !run.state.finished { return run.result() }
        }
        try Checkpoint.load(from: run.bestURL, expectedConfig: run.configData, parameters: model.parameters)
        return run.result()
    }

    /// One training run: the model, its optimizer and the resumable state in the work directory.
    final class Run {
        let model: any SequenceModel
        let params: ParameterSet
        let adam: Adam
        let loop: EpochLoop
        let validation: SequenceSet, test: SequenceSet?
        let options: TrainOptions
        let workDirectory: URL
        let configData: Data
        let encoder = JSONEncoder()
        var state = State()
        /// The epoch this call resumed after (0 = fresh start).
        let resumedAfter: Int

        /// Picks up the state a killed run left when it was written with the same options.
        init(
            _ model: any SequenceModel, config: ModelConfig, validation: SequenceSet, test: SequenceSet?,
            options: TrainOptions, workDirectory: URL
        ) throws {
            self.model = model
            params = model.parameters
            adam = Adam(parameters: params, config: AdamConfig(learningRate: options.learningRate, l2: options.l2))
            loop = EpochLoop(
                optimizers: [adam], batchSize: options.batchSize, seed: options.seed, salt: 0xD1B5_4A32_D192_ED03)
            self.validation = validation
            self.test = test
            self.options = options
            self.workDirectory = workDirectory
            encoder.outputFormatting = [.sortedKeys]
            configData = try encoder.encode(config)
            try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
            var keyOptions = options
            keyOptions.stopAfterEpochs = nil
            state.options = keyOptions
            let stateURL = workDirectory.appendingPathComponent("state.json")
            if FileManager.default.fileExists(atPath: stateURL.path),
                let saved = try? JSONDecoder().decode(State.self, from: Data(contentsOf: stateURL)),
                saved.options == keyOptions
            {
                state = saved
            }
            resumedAfter = state.history.last?.epoch ?? 0
            if let last = state.lastCheckpoint {
                try Checkpoint.load(
                    from: workDirectory.appendingPathComponent(last), expectedConfig: configData,
                    parameters: params, optimizer: adam)
            }
        }

        var stateURL: URL { workDirectory.appendingPathComponent("state.json") }
        var bestURL: URL { workDirectory.appendingPathComponent(state.bestCheckpoint ?? "best-0.ckpt") }

        func evaluate() -> (validation: RankingMetrics?, test: RankingMetrics?) {
            let v =
                validation.count > 0
                ? Evaluator.evaluate(model, on: validation, batchSize: options.evalBatchSize, limit: options.evalLimit)
                : nil
            let t =
                options.selection == .paper
                ? Evaluator.evaluate(model, on: test!, batchSize: options.evalBatchSize, limit: options.evalLimit) : nil
            return (v, t)
        }

        func saveState() throws { try encoder.encode(state).write(to: stateURL, options: .atomic) }

        func result() -> TrainResult {
            let upToBest = state.history.filter { $0.epoch <= state.bestEpoch }.reduce(0) { $0 + $1.seconds }
            return TrainResult(
                history: state.history, bestEpoch: state.bestEpoch, bestMetrics: state.bestMetrics,
                selection: options.selection, secondsToBest: upToBest,
                totalSeconds: state.history.reduce(0) { $0 + $1.seconds },
                stoppedEarly: state.stoppedEarly, resumedAfterEpoch: resumedAfter, checkpoint: bestURL)
        }

        /// A model without parameters: one evaluation recorded as epoch 0.
        func evaluateOnly() throws -> TrainResult {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (v, t) = evaluate()
            state.bestMetrics = (options.selection == .paper ? t : v) ?? RankingMetrics()
            state.history = [
                EpochRecord(
                    epoch: 0, loss: 0, validation: v, test: t,
                    seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            ]
            state.finished = true
            state.bestCheckpoint = "best-0.ckpt"
            try Checkpoint.save(to: bestURL, config: configData, parameters: params)
            try saveState()
            return result()
        }

        /// Records the epoch, keeps its parameters when it is the best so far, decides whether to stop, and
        /// writes the checkpoints and then the state. Returns the epoch's selection metrics.
        func finishEpoch(_ record: EpochRecord) throws -> RankingMetrics {
            let epoch = record.epoch
            state.history.append(record)
            let selectedOrNil = options.selection == .paper ? record.test : record.validation
            let selected = selectedOrNil ?? RankingMetrics()
            let previousLast = state.lastCheckpoint, previousBest = state.bestCheckpoint
            if state.best.improves(epoch, selectedOrNil) {
                state.bestMetrics = selected
                state.bestCheckpoint = "best-\(epoch).ckpt"
                try Checkpoint.save(to: bestURL, config: configData, parameters: params)
            }
            if state.best.patienceRanOut(after: epoch, patience: options.patience, minEpochs: options.minEpochs) {
                state.finished = true
                state.stoppedEarly = epoch < options.maxEpochs
            }
            if epoch >= options.maxEpochs { state.finished = true }
            state.lastCheckpoint = "last-\(epoch).ckpt"
            try Checkpoint.save(
                to: workDirectory.appendingPathComponent(state.lastCheckpoint!), config: configData,
                parameters: params, optimizer: adam)
            try saveState()
            // Only now are the previous files unreferenced.
            for old in [previousLast, previousBest].compactMap({ $0 })
            where old != state.lastCheckpoint && old != state.bestCheckpoint {
                try? FileManager.default.removeItem(at: workDirectory.appendingPathComponent(old))
            }
            return selected
        }
    }
}
