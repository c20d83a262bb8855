import Evaluation
import Foundation

/// Parameter counts split as the paper's tables report them (one type with Evaluation's: the same JSON).
public typealias ParamCounts = ParameterCounts

/// One epoch of a training run as logged by the train stage (deterministic: no wall times).
public struct EpochLog: Codable, Hashable, Sendable {
    public var epoch: Int
    public var loss: Double
    public var validMRR5: Double?
    public var testMRR5: Double?
}

/// What the train stage writes to `train.json` beside the checkpoint. Wall times are measurements in the
/// manifest (`Timing`), not here, so identical runs write identical files.
public struct TrainRecord: Codable, Sendable {
    public var dataset: String
    public var model: String
    public var history: [EpochLog]
    public var bestEpoch: Int
    public var selection: String
    /// Values a `tune/` stage chose and this run trained with (absent for an untuned run, so its file is unchanged).
    public var tuned: TunedValues? = nil
}

/// Names of the measurements train and evaluate stages record in their manifests.
enum Timing {
    static let secondsToBest = "secondsToBest"
    static let secondsTotal = "secondsTotal"
    static let inferenceFull = "inferenceFullSeconds"
    static let inferenceFast = "inferenceFastSeconds"
    static let threads = "threads"
    /// NextItNet's full-scoring top-5 time / this model's fast top-5 time, timed in alternation in one stage.
    static let speedup = "inferenceSpeedup"
    /// The same at test batch 1 (the paper's latency setting): median per-sequence times, a bounded sample of rows.
    static let speedupBatch1 = "inferenceSpeedupBatch1"
    /// This model's median seconds for one sequence's top-5 at batch 1 (fast path).
    static let latencyBatch1 = "inferenceLatencyBatch1Seconds"
    /// The tree softmax's top-5 time over the test set under one pruning rule (`FastTopNReport.seconds`).
    static func fastTopN(_ rule: String) -> String { "fastTopNSeconds.\(rule)" }
}

/// What the evaluate stage writes to `metrics.json`: the deterministic part of a table row.
public struct EvaluationOutput: Codable, Sendable {
    public var dataset: String
    public var model: String
    public var label: String
    /// Every `Metric` on the test split, by its name.
    public var metrics: [String: Double]
    public var params: ParamCounts
    public var bestEpoch: Int
    public var epochsTrained: Int
    public var selection: String
    public var testSequences: Int
    public var inferenceBatch: Int
    /// The training seed of the evaluated model.
    public var seed: UInt64
    /// Tree-softmax models: each fast top-5 rule (exact first) against full scoring. Absent otherwise.
    public var fastTopN: [FastTopNReport]? = nil
    /// The item vocabulary K (padding included) the model ranks over.
    public var items: Int? = nil
    /// Validation MRR@5 at the selected epoch (what "chosen on validation" compares).
    public var validMRR5: Double? = nil
}

/// A table row in memory: the evaluation output plus the timings from the evaluate stage's manifest.
public struct EvaluationRecord: Codable, Sendable {
    public var dataset: String
    public var model: String
    public var label: String
    public var metrics: [String: Double]
    public var params: ParamCounts
    public var secondsToBest: Double
    public var secondsTotal: Double
    public var bestEpoch: Int
    public var epochsTrained: Int
    public var selection: String
    /// Wall time to produce the top-5 list of every timed test sequence by full scoring (nil: not timed).
    public var inferenceFullSeconds: Double?
    /// The same through the model's fast top-N path (equal to full for models without one).
    public var inferenceFastSeconds: Double?
    /// NextItNet's full-scoring time over this model's fast path, timed in alternation (nil: not measurable).
    public var speedup: Double?
    /// The same at test batch 1 (nil: not measured).
    public var speedupBatch1: Double? = nil
    public var testSequences: Int
    public var inferenceBatch: Int
    public var threads: Int
    /// The item vocabulary K (padding included); nil in records written before it was kept.
    public var items: Int? = nil
    /// Tree-softmax models: each fast top-5 rule against full scoring, per seed (one list per seed run).
    public var seedFastTopN: [[FastTopNReport]] = []
    /// Seeds behind this record, and each seed's value of every metric (same order); a merged record's
    /// `metrics`, times and speedup are the means over them.
    public var seeds: [UInt64] = []
    public var seedMetrics: [String: [Double]] = [:]
    /// Per-seed training seconds to the best epoch and inference speedups (nil entries dropped).
    public var seedSecondsToBest: [Double] = []
    public var seedSpeedups: [Double] = []
    public var seedSpeedupsBatch1: [Double] = []
    public var seedSecondsPerEpoch: [Double] = []
    /// Per seed: the run's last epoch was its best, so it ended at the epoch cap while still improving (early
    /// stopping ends a run `patience` epochs after its best).
    public var seedEndedOnBest: [Bool] = []
    /// Validation MRR@5 at the selected epoch: the mean over seeds, and each seed's.
    public var validMRR5: Double? = nil
    public var seedValidMRR5: [Double] = []

    /// How many seeds ended at the epoch cap while still improving (trained models only).
    public var seedsCappedWhileImproving: Int {
        (seedEndedOnBest.isEmpty ? [bestEpoch > 0 && bestEpoch == epochsTrained] : seedEndedOnBest).filter { $0 }.count
    }

    public var secondsPerEpoch: Double {
        seedSecondsPerEpoch.isEmpty
            ? secondsTotal / Double(max(epochsTrained, 1))
            : seedSecondsPerEpoch.reduce(0, +) / Double(seedSecondsPerEpoch.count)
    }

    /// A metric's value (the mean over seeds for a merged record).
    public func metric(_ metric: Metric) -> Double? { metrics[metric.rawValue] }

    /// Each seed's values of a metric (a single-run record gives its one value).
    public func values(_ metric: Metric) -> [Double] {
        seedMetrics[metric.rawValue] ?? metrics[metric.rawValue].map { [$0] } ?? []
    }

    /// Mean ± sd summary of a metric over seeds.
    public func summary(_ metric: Metric) -> SampleSummary { SampleSummary(values(metric)) }

    /// Sample standard deviation of a metric over seeds (0 for one seed).
    public func sd(_ metric: Metric) -> Double { summary(metric).sd }

    /// False when this trained model does not clear `mostPop` by `Evidence.learned`; MostPop itself, or a dataset
    /// without a MostPop run, counts as learned.
    public func learned(mostPop: EvaluationRecord?) -> Bool {
        guard let pop = mostPop, pop.model != model, let popMRR = pop.metric(.mrr5) else { return true }
        return Evidence.learned(values(.mrr5), mostPop: popMRR)
    }

    /// One record from several seeds' runs of the same model: means, with every seed's value kept.
    static func merging(_ runs: [EvaluationRecord]) -> EvaluationRecord {
        precondition(!runs.isEmpty, "no runs to merge")
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
        var m = runs[0]
        m.seeds = runs.flatMap(\.seeds)
        var perMetric: [String: [Double]] = [:]
        for key in runs[0].metrics.keys.sorted() { perMetric[key] = runs.map { $0.metrics[key] ?? .nan } }
        m.seedMetrics = perMetric
        m.metrics = perMetric.mapValues(mean)
        m.seedSecondsToBest = runs.map(\.secondsToBest)
        m.seedSecondsPerEpoch = runs.map(\.secondsPerEpoch)
        m.seedEndedOnBest = runs.map { $0.seedsCappedWhileImproving > 0 }
        m.seedSpeedups = runs.compactMap(\.speedup)
        m.secondsToBest = mean(m.seedSecondsToBest)
        m.secondsTotal = mean(runs.map(\.secondsTotal))
        m.epochsTrained = max(1, Int((mean(runs.map { Double($0.epochsTrained) })).rounded()))
        m.bestEpoch = Int(mean(runs.map { Double($0.bestEpoch) }).rounded())
        m.speedup = m.seedSpeedups.count == runs.count ? mean(m.seedSpeedups) : nil
        m.seedSpeedupsBatch1 = runs.compactMap(\.speedupBatch1)
        m.speedupBatch1 = m.seedSpeedupsBatch1.count == runs.count ? mean(m.seedSpeedupsBatch1) : nil
        m.seedFastTopN = runs.flatMap(\.seedFastTopN)
        // Only where every seed was timed (untimed runs: `TimingPlan`).
        let full = runs.compactMap(\.inferenceFullSeconds), fast = runs.compactMap(\.inferenceFastSeconds)
        m.inferenceFullSeconds = full.count == runs.count ? mean(full) : nil
        m.inferenceFastSeconds = fast.count == runs.count ? mean(fast) : nil
        m.seedValidMRR5 = runs.compactMap(\.validMRR5)
        m.validMRR5 = m.seedValidMRR5.count == runs.count ? mean(m.seedValidMRR5) : nil
        return m
    }
}

/// What the finetune stage writes (Table 6).
public struct TransferRecord: Codable, Sendable {
    public var dataset: String
    public var datasetLabel: String
    public var model: String
    public var label: String
    public var pretrained: Bool
    public var mrr5: Double
    public var hr5: Double
    public var negatives: Int
    public var testUsers: Int
    public var backboneFrozen: Bool
    /// Training seed of the backbone and of the fine-tuning.
    public var seed: UInt64
    /// Parameters of the pre-trained backbone (as the paper's Table 6 reports them; its training time is a
    /// measurement).
    public var params: ParamCounts
    /// Which Table 6 row this is: `pretrained` (the paper's), `frozen` (pre-trained backbone, head only) or
    /// `scratch` (random-init ablation).
    public var row: String? = nil
    /// MRR@5 / HR@5 with the true item ranked against every target item (beside the sampled 1 + negatives).
    public var fullMRR5: Double? = nil
    public var fullHR5: Double? = nil
    /// Per test user: the 0-based rank of the true item against the sampled negatives (the bootstrap's test rows).
    public var ranks: [Int32]? = nil
    /// A trained random-init row (`transfer.scratch`): the learning rate it chose on the target validation split,
    /// the epoch early stopping kept and how many it ran (absent for the other rows).
    public var learningRate: Double? = nil
    public var bestEpoch: Int? = nil
    public var epochsRun: Int? = nil
    public var epochCap: Int? = nil

    /// `row`, for records written before it was kept.
    public var rowKind: String { row ?? (pretrained ? "pretrained" : "scratch") }
}

enum JSONFiles {
    static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(value).write(to: url, options: .atomic)
    }

    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ExperimentError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw ExperimentError("\(url.path) is not a valid \(T.self): \(error)")
        }
    }
}

/// An experiment-level failure with a message meant for the user.
public struct ExperimentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
