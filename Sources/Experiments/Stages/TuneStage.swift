import Datasets
import Foundation
import Kernels
import Models
import Pipeline
import Random
import Training

/// `tune/<dataset>/<model>`: trains every trial of the profile's space on the tuning seed with the per-trial epoch
/// cap, and writes the trials with their best validation MRR@5 and the chosen values (`tune.json`). The final train
/// stages of the model (and of models inheriting its choice) take this stage as an input, so their keys follow the
/// chosen values and a change of space or budget makes exactly them stale.
struct TuneStage: TypedParameters {
    static let fileName = "tune.json"
    static func stageID(dataset: String, model: String) -> StageID { StageID("tune/\(dataset)/\(model)") }

    let dataset: String
    let model: ModelEntry
    /// The model's own training settings with the tuning seed and the per-trial epoch cap.
    let training: TrainingSpec
    let trials: [TunedValues]
    let space: [(key: String, values: [Double])]
    let prep: StageID
    let blocks: StageID

    init(dataset: String, model: ModelEntry, profile: TrainingSpec, tuning: TuningSpec, prep: StageID, blocks: StageID)
    {
        self.dataset = dataset
        self.model = model
        var t = model.trainingSpec(profile, seed: tuning.seed)
        t.maxEpochs = min(t.maxEpochs, tuning.budget(on: dataset).maxEpochs)
        t.minEpochs = min(t.minEpochs, t.maxEpochs)
        training = t
        trials = tuning.trialSettings(on: dataset, kind: model.config.kind.rawValue)
        space = tuning.space(for: model.config.kind.rawValue)
        self.prep = prep
        self.blocks = blocks
    }

    var id: StageID { Self.stageID(dataset: dataset, model: model.name) }
    var version: Int { EngineRevision.stageVersion(1) }
    struct Parameters: Encodable {
        var model: ModelConfig
        var training: TrainingSpec
        var trials: [[String: Double]]
        var select = "validation MRR@5"
        var numerics: String
        var kindRevision: Int?
    }
    var typedParameters: Parameters {
        Parameters(
            model: model.config, training: training, trials: trials.map(\.values),
            numerics: model.config.numericsIdentity, kindRevision: model.config.kindRevisionInKey)
    }
    var inputs: [StageID] { [prep, blocks] }
    var outputs: [String] { [Self.fileName] }
    var preferredThreads: Int? { training.threads }

    /// The best trial by validation MRR@5; a tie keeps the earlier trial, so the choice never depends on timing.
    static func choose(_ trials: [TuneTrial]) -> Int? {
        var best: Int?
        for (i, t) in trials.enumerated() where t.validMRR5.isFinite {
            if best == nil || t.validMRR5 > trials[best!].validMRR5 { best = i }
        }
        return best
    }

    func run(_ context: StageContext) throws { try Kernels.withThreads(context.threads) { try compute(context) } }

    func compute(_ context: StageContext) throws {
        let inputs = try RunInputs(context, prep: prep, blocks: blocks)
        let data = inputs.data
        let train = RunInputs.sequences(data.train), valid = RunInputs.sequences(data.valid)
        var done: [TuneTrial] = []
        for (i, trial) in trials.enumerated() {
            // Each trial keeps its own record and trainer checkpoint in the work area: a killed tune resumes.
            let work = context.workDirectory.appendingPathComponent("trial\(i)")
            let recordURL = work.appendingPathComponent("trial.json")
            if let saved = try? JSONFiles.read(TuneTrial.self, from: recordURL), saved.values == trial {
                done.append(saved)
                continue
            }
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let config = try trial.apply(to: try inputs.config(model))
            let t = trial.apply(to: training)
            var options = t.trainOptions
            // Trials never look at the test set, whatever the profile's final selection rule.
            options.selection = .validation
            let net = try ModelFactory.make(config, itemCount: data.itemCount, seed: t.seed, trainSequences: train)
            let result = try Trainer.train(
                net, config: config, train: train, validation: valid, options: options,
                workDirectory: work
            ) { p in
                context.progress(
                    "trial \(i + 1)/\(trials.count) (\(trial.description)): \(p.message)", fraction: p.fraction)
            }
            let record = TuneTrial(
                values: trial, validMRR5: result.bestMetrics.mrr5, bestEpoch: result.bestEpoch,
                epochs: result.history.count, seconds: result.totalSeconds)
            try JSONFiles.write(record, to: recordURL)
            context.log(
                String(
                    format: "trial %d (%@): validation MRR@5 %.4f at epoch %d of %d, %.1f s", i + 1, trial.description,
                    record.validMRR5, record.bestEpoch, record.epochs, record.seconds))
            done.append(record)
        }
        guard let best = Self.choose(done) else { throw ExperimentError("\(id): no trial produced a validation MRR@5") }
        let seconds = done.map(\.seconds).reduce(0, +)
        let out = TuneRecord(
            dataset: dataset, model: model.name, label: model.label,
            space: space.map { TuneRecord.Axis(key: $0.key, values: $0.values) }, trials: done,
            chosen: done[best].values, untuned: try untuned(), maxEpochs: training.maxEpochs, seed: training.seed,
            coreMinutes: seconds * Double(context.threads) / 60)
        try JSONFiles.write(out, to: context.outputDirectory.appendingPathComponent(Self.fileName))
        context.log(
            "chosen: \(done[best].values.description) (validation MRR@5 \(String(format: "%.4f", done[best].validMRR5)))"
        )
    }

    /// The values the space's keys take without tuning (the spec's own), so the report can find that trial.
    func untuned() throws -> TunedValues {
        guard case .object(let config) = try JSONValue(encoding: model.config) else { return TunedValues([:]) }
        var out: [String: Double] = [:]
        for (key, _) in space {
            switch key {
            case "learningRate": out[key] = training.learningRate
            case "l2": out[key] = training.l2
            default:
                // A config key left nil (e.g. an unset dropout) means the model's built-in 0.
                if case .number(let v) = config[key] ?? .number(0) { out[key] = v }
            }
        }
        return TunedValues(out)
    }

    static func load(_ directory: URL) throws -> TuneRecord {
        try JSONFiles.read(TuneRecord.self, from: directory.appendingPathComponent(fileName))
    }
}

/// One trial's outcome.
public struct TuneTrial: Codable, Sendable {
    public var values: TunedValues
    public var validMRR5: Double
    public var bestEpoch: Int
    public var epochs: Int
    public var seconds: Double
}

/// What `tune/<dataset>/<model>` writes.
public struct TuneRecord: Codable, Sendable {
    public struct Axis: Codable, Sendable {
        public var key: String
        public var values: [Double]
    }
    public var dataset: String
    public var model: String
    public var label: String
    public var space: [Axis]
    public var trials: [TuneTrial]
    public var chosen: TunedValues
    /// The space's keys at the spec's own values (what the model trains with when the profile does not tune).
    public var untuned: TunedValues
    public var maxEpochs: Int
    public var seed: UInt64
    /// Wall seconds of every trial × the stage's threads.
    public var coreMinutes: Double
}
