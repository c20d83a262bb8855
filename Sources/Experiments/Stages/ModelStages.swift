import Datasets
import Evaluation
import Foundation
import Kernels
import Models
import NeuralNet
import Pipeline
import Training

/// What every model stage reads: the prepared dataset and its frequency blocks (read once).
struct RunInputs {
    let data: PreparedDataset
    let blocks: Blocks

    init(_ context: StageContext, prep: StageID, blocks: StageID) throws {
        data = try PreparedDataset.load(from: try context.inputDirectory(prep))
        self.blocks = try BlocksStage.load(try context.inputDirectory(blocks))
    }

    static func sequences(_ m: SequenceMatrix) -> SequenceSet { SequenceSet(ids: m.data, length: m.length) }

    /// The config with the dataset's frequency blocks filled in (block-wise models) and validated against K.
    func config(_ model: ModelEntry) throws -> ModelConfig {
        var c = model.config
        if c.blocks.isEmpty { c.blocks = blocks.boundaries }
        do { try ModelFactory.validate(c, itemCount: data.itemCount) } catch {
            throw ExperimentError("model \(model.name): \(error)")
        }
        return c
    }

    /// The model with the weights a train stage saved in `trainDirectory` (under the tuned values it trained with).
    func trained(_ model: ModelEntry, from trainDirectory: URL) throws -> any SequenceModel {
        let record = try JSONFiles.read(
            TrainRecord.self, from: trainDirectory.appendingPathComponent(TrainStage.recordName))
        var config = try config(model)
        if let tuned = record.tuned { config = try tuned.apply(to: config) }
        let net = try ModelFactory.make(
            config, itemCount: data.itemCount, seed: 0,
            trainSequences: Self.sequences(data.train))
        try Checkpoint.load(
            from: trainDirectory.appendingPathComponent(TrainStage.checkpointName), parameters: net.parameters)
        return net
    }
}

extension TrainingSpec {
    /// The trainer's options for these settings (a train stage's, or one tuning trial's).
    var trainOptions: TrainOptions {
        var options = TrainOptions()
        options.batchSize = batchSize
        options.maxEpochs = maxEpochs
        options.patience = patience
        options.minEpochs = minEpochs
        options.learningRate = Float(learningRate)
        options.l2 = Float(l2)
        options.seed = seed
        options.selection = selection
        return options
    }
}

/// `train/<dataset>/<model>/seed<s>`: Adam until validation MRR@5 stops improving (after `minEpochs`);
/// resumable from its last epoch. One stage per seed, so adding a seed trains only the new seed.
struct TrainStage: TypedParameters {
    static let checkpointName = "model.ckpt"
    static let recordName = "train.json"
    static func stageID(dataset: String, model: String, seed: UInt64) -> StageID {
        StageID("train/\(dataset)/\(model)/seed\(seed)")
    }

    let dataset: String
    let model: ModelEntry
    /// The profile's settings with the model's overrides and this stage's seed (`ModelEntry.trainingSpec`).
    let training: TrainingSpec
    let prep: StageID
    let blocks: StageID
    /// `tune/<dataset>/<head>` whose chosen values this run trains with. An input, not a parameter: the key then
    /// follows the chosen values (the tune output's hash), and an untuned run's key stays what it was.
    var tune: StageID? = nil
    var id: StageID { Self.stageID(dataset: dataset, model: model.name, seed: training.seed) }
    var version: Int { EngineRevision.stageVersion(2) }
    struct Parameters: Encodable {
        var model: ModelConfig
        var training: TrainingSpec
        var numerics: String
        var kindRevision: Int?
    }
    var typedParameters: Parameters {
        Parameters(
            model: model.config, training: training, numerics: model.config.numericsIdentity,
            kindRevision: model.config.kindRevisionInKey)
    }
    var inputs: [StageID] { [prep, blocks] + (tune.map { [$0] } ?? []) }
    var outputs: [String] { [Self.checkpointName, Self.recordName] }
    var preferredThreads: Int? { training.threads }

    /// What the trainer runs with: this stage's (profile + model override + seed) settings.
    var trainOptions: TrainOptions { trainOptions(tuned: nil) }

    /// The same with a tune stage's chosen values laid over them.
    func trainOptions(tuned: TunedValues?) -> TrainOptions {
        var options = (tuned?.apply(to: training) ?? training).trainOptions
        options.progressEvery = 20
        return options
    }

    func run(_ context: StageContext) throws { try Kernels.withThreads(context.threads) { try compute(context) } }

    func compute(_ context: StageContext) throws {
        let inputs = try RunInputs(context, prep: prep, blocks: blocks)
        let data = inputs.data
        let tuned = try tune.map { try TuneStage.load(try context.inputDirectory($0)).chosen }
        var config = try inputs.config(model)
        if let tuned {
            config = try tuned.apply(to: config)
            context.log("tuned values from \(tune!.raw): \(tuned.description)")
        }
        let train = RunInputs.sequences(data.train)
        let net = try ModelFactory.make(config, itemCount: data.itemCount, seed: training.seed, trainSequences: train)
        let result = try Trainer.train(
            net, config: config, train: train, validation: RunInputs.sequences(data.valid),
            test: RunInputs.sequences(data.test), options: trainOptions(tuned: tuned),
            workDirectory: context.workDirectory
        ) { p in
            if p.validation != nil { context.log(p.message) }
            context.progress(p.message, fraction: p.fraction)
        }
        try FileManager.default.copyItem(
            at: result.checkpoint,
            to: context.outputDirectory.appendingPathComponent(Self.checkpointName))
        let record = TrainRecord(
            dataset: dataset, model: model.name,
            history: result.history.map {
                EpochLog(
                    epoch: $0.epoch, loss: $0.loss,
                    validMRR5: $0.validation?.mrr5, testMRR5: $0.test?.mrr5)
            },
            bestEpoch: result.bestEpoch, selection: training.selection.rawValue, tuned: tuned)
        context.record(Timing.secondsToBest, result.secondsToBest)
        context.record(Timing.secondsTotal, result.totalSeconds)
        context.record(Timing.threads, Double(context.threads))
        try JSONFiles.write(record, to: context.outputDirectory.appendingPathComponent(Self.recordName))
        context.log(
            "best epoch \(result.bestEpoch) of \(result.history.count)\(result.resumedAfterEpoch > 0 ? ", resumed after epoch \(result.resumedAfterEpoch)" : "")"
        )
    }
}

/// Number of trainable parameters (0 for MostPop, which has nothing to time against NextItNet).
private func p0(_ model: any SequenceModel) -> Int { model.parameters.count }

/// `evaluate/<dataset>/<model>/seed<s>`: test metrics over all items, parameter counts, training time, top-5
/// inference time of one seed's model.
struct EvaluateStage: TypedParameters {
    static let fileName = "metrics.json"
    /// Per test row, the 0-based rank of the target (the report's bootstrap resamples test rows from it).
    static let ranksName = "ranks.json"
    static func stageID(dataset: String, model: String, seed: UInt64) -> StageID {
        StageID("evaluate/\(dataset)/\(model)/seed\(seed)")
    }
    static func stageIDs(dataset: String, model: String, seeds: [UInt64]) -> [StageID] {
        seeds.map { stageID(dataset: dataset, model: model, seed: $0) }
    }

    /// Every seed's evaluation of one model, merged: means in `metrics`, each seed's values in `seedMetrics`.
    static func load(
        _ context: StageContext, dataset: String, model: String, seeds: [UInt64]
    ) throws -> EvaluationRecord {
        try load(context, stageIDs(dataset: dataset, model: model, seeds: seeds))
    }

    static func load(_ context: StageContext, _ ids: [StageID]) throws -> EvaluationRecord {
        EvaluationRecord.merging(try ids.map { try load(context, $0) })
    }

    static func load(_ context: StageContext, _ id: StageID) throws -> EvaluationRecord {
        let o = try JSONFiles.read(
            EvaluationOutput.self, from: try context.inputDirectory(id).appendingPathComponent(fileName))
        func m(_ name: String) -> Double { context.inputMeasurement(id, name) ?? .nan }
        var r = EvaluationRecord(
            dataset: o.dataset, model: o.model, label: o.label, metrics: o.metrics, params: o.params,
            secondsToBest: m(Timing.secondsToBest), secondsTotal: m(Timing.secondsTotal),
            bestEpoch: o.bestEpoch, epochsTrained: o.epochsTrained, selection: o.selection,
            inferenceFullSeconds: context.inputMeasurement(id, Timing.inferenceFull),
            inferenceFastSeconds: context.inputMeasurement(id, Timing.inferenceFast),
            speedup: context.inputMeasurement(id, Timing.speedup),
            speedupBatch1: context.inputMeasurement(id, Timing.speedupBatch1),
            testSequences: o.testSequences, inferenceBatch: o.inferenceBatch,
            threads: Int(context.inputMeasurement(id, Timing.threads) ?? 0))
        r.seeds = [o.seed]
        r.items = o.items
        // Outputs written before the wall times moved to the manifest still carry them in the file.
        r.seedFastTopN =
            o.fastTopN.map { rules in
                [
                    rules.map { rule in
                        var r = rule
                        r.seconds = context.inputMeasurement(id, Timing.fastTopN(r.rule)) ?? r.seconds
                        return r
                    }
                ]
            } ?? []
        r.validMRR5 = o.validMRR5
        return r
    }

    /// One run's per-row ranks (empty when the stage wrote none).
    static func ranks(_ context: StageContext, _ id: StageID) throws -> [Int32] {
        let url = try context.inputDirectory(id).appendingPathComponent(ranksName)
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        return try JSONFiles.read([Int32].self, from: url)
    }

    let dataset: String
    let model: ModelEntry
    let train: StageID
    let prep: StageID
    let blocks: StageID
    let inferenceBatch: Int
    let threads: Int
    let seed: UInt64
    /// NextItNet on the same data and seed: the inference speedup is timed against it inside this stage (nil for
    /// itself).
    let baseline: ModelEntry?
    /// Also rank each target against this many sampled items (profiles.yaml `sampledNegatives`); nil: full ranking
    /// only.
    var sampledNegatives: Int? = nil
    /// profiles.yaml `timedRows` (nil: `defaultTimedRows`).
    var timedRowsDeclared: Int? = nil
    /// False: no inference timing (no table or claim reads this model's speed on this dataset; `TimingPlan`).
    var timed = true
    /// The negatives' seed: one list per test row, the same for every model and training seed.
    static let negativeSeed: UInt64 = 2020
    /// Batch-1 timing stops after this many test sequences or this many seconds (both paths together), so
    /// evaluate stays cheap on large test sets; the median per sequence needs no more.
    static let batch1Rows = 300
    static let batch1Budget = 3.0
    static let defaultTimedRows = 2000
    var timedRows: Int { timedRowsDeclared ?? Self.defaultTimedRows }
    var id: StageID { Self.stageID(dataset: dataset, model: model.name, seed: seed) }
    // 7: metrics gained HR@10 and NDCG@10. 8: SASRec's tree softmax reaches the fast top-N report. 9: a flat
    // softmax's top-N ranks logits (no softmax over the vocabulary): the speedup reference does no needless work.
    var version: Int { EngineRevision.stageVersion(9) }
    struct Parameters: Encodable {
        var label: String
        var inferenceBatch: Int
        var threads: Int
        var baseline: Nullable<ModelConfig>
        // The optional ones only when declared, so the keys of profiles without them are what they were.
        var sampledNegatives: Int?
        var timedRows: Int?
        var timed: Bool?
        var numerics: String
        var kindRevision: Int?
    }
    var typedParameters: Parameters {
        Parameters(
            label: model.label, inferenceBatch: inferenceBatch, threads: threads,
            baseline: Nullable(baseline?.config), sampledNegatives: sampledNegatives, timedRows: timedRowsDeclared,
            timed: timed ? nil : false, numerics: model.config.numericsIdentity,
            kindRevision: model.config.kindRevisionInKey)
    }
    var preferredThreads: Int? { threads }
    var baselineTrain: StageID? { baseline.map { TrainStage.stageID(dataset: dataset, model: $0.name, seed: seed) } }
    var inputs: [StageID] { [train, prep, blocks] + (baselineTrain.map { [$0] } ?? []) }
    var outputs: [String] { [Self.fileName, Self.ranksName] }

    func run(_ context: StageContext) throws { try Kernels.withThreads(context.threads) { try compute(context) } }

    func compute(_ context: StageContext) throws {
        let inputs = try RunInputs(context, prep: prep, blocks: blocks)
        let trainDir = try context.inputDirectory(train)
        let net = try inputs.trained(model, from: trainDir)
        let record = try JSONFiles.read(TrainRecord.self, from: trainDir.appendingPathComponent(TrainStage.recordName))

        let test = RunInputs.sequences(inputs.data.test)
        context.progress("ranking \(test.count) test sequences")
        let ranks = Evaluator.ranks(net, on: test, batchSize: inferenceBatch)
        var accumulator = MetricAccumulator()
        for r in ranks { accumulator.add(rank: Int(r)) }
        let metrics = accumulator.result
        var values = Dictionary(uniqueKeysWithValues: Metric.allCases.map { ($0.rawValue, $0.value(metrics)) })
        if let n = sampledNegatives {
            context.progress("ranking against \(n) sampled items")
            let counts = try PreparedDataset.loadItemCounts(from: try context.inputDirectory(prep))
            let weightings = NegativeSampler.Weighting.allCases
            let ranksBySampler = Evaluator.sampledRanks(
                net, on: test, batchSize: inferenceBatch,
                samplers: weightings.map { NegativeSampler(itemCount: net.itemCount, weighting: $0, counts: counts) },
                count: n, seed: Self.negativeSeed)
            for (weighting, sampledRanks) in zip(weightings, ranksBySampler) {
                var sampled = MetricAccumulator()
                for r in sampledRanks { sampled.add(rank: Int(r)) }
                for m in Metric.allCases {
                    values[SampledMetric.key(negatives: n, weighting, m)] = m.value(sampled.result)
                }
            }
        }
        try JSONFiles.write(ranks, to: context.outputDirectory.appendingPathComponent(Self.ranksName))
        // Timing runs on at most `timedRows` test rows: large test sets are there for the metrics' test-set noise,
        // and the time per row does not need them.
        let timedSet = SequenceSet(ids: Array(test.ids.prefix(timedRows * test.length)), length: test.length)
        let reference = try baselineTrain.map { try inputs.trained(baseline!, from: try context.inputDirectory($0)) }
        if timed { context.progress("timing top-5 inference (no other stage computing)") }
        // Every timing with nothing else computing on the machine's other cores (the runner's quiet gate).
        let timing = !timed ? nil : context.quietly { () -> InferenceTiming in
            let timing = InferenceTiming.measure(net, on: timedSet, batchSize: inferenceBatch, n: 5)
            if let reference, p0(net) > 0 {
                let (b, m) = InferenceTiming.paired(
                    baseline: reference, model: net, on: timedSet, batchSize: inferenceBatch)
                context.record(Timing.speedup, b / m)
                context.progress("timing top-5 at batch 1")
                let one = InferenceTiming.pairedLatency(
                    baseline: reference, model: net, on: timedSet, n: 5,
                    maxRows: Self.batch1Rows, budgetSeconds: Self.batch1Budget)
                context.record(Timing.speedupBatch1, one.baseline / one.model)
                context.record(Timing.latencyBatch1, one.model)
            }
            return timing
        }
        if timed && baseline == nil {
            context.record(Timing.speedup, 1)
            context.record(Timing.speedupBatch1, 1)
        }
        let out = EvaluationOutput(
            dataset: dataset, model: model.name, label: model.label,
            metrics: values,
            params: ParamCounts(net),
            bestEpoch: record.bestEpoch, epochsTrained: record.history.count, selection: record.selection,
            testSequences: test.count, inferenceBatch: inferenceBatch, seed: seed,
            fastTopN: timing.flatMap { t in
                t.rules.isEmpty ? nil : t.rules.map { var r = $0; r.seconds = nil; return r }
            }, items: inputs.data.itemCount,
            validMRR5: record.history.first { $0.epoch == record.bestEpoch }?.validMRR5)
        try JSONFiles.write(out, to: context.outputDirectory.appendingPathComponent(Self.fileName))
        // Timings go to the manifest: the training ones are carried over so tables read one stage per row.
        for name in [Timing.secondsToBest, Timing.secondsTotal] {
            if let v = context.inputMeasurement(train, name) { context.record(name, v) }
        }
        context.record(Timing.threads, Double(context.threads))
        guard let timing else {
            context.log("\(model.label): \(metrics.summary); params \(out.params.total); inference not timed")
            return
        }
        context.record(Timing.inferenceFull, timing.fullSeconds)
        context.record(Timing.inferenceFast, timing.fastSeconds)
        for r in timing.rules {
            guard let seconds = r.seconds else { continue }
            context.record(Timing.fastTopN(r.rule), seconds)
        }
        context.log(
            "\(model.label): \(metrics.summary); params \(out.params.total); top-5 full \(String(format: "%.3f", timing.fullSeconds)) s, fast \(String(format: "%.3f", timing.fastSeconds)) s"
                + timing.rules.map { r in
                    String(
                        format: "; %@ rule: top-5 = full on %.1f %% of rows, %.1f %% of tail blocks skipped, %.3f s",
                        r.rule, 100 * r.agreement, 100 * r.skippedShare, r.seconds ?? .nan)
                }.joined())
    }
}
