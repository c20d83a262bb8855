import Foundation
import Reports

/// One run of Figure 1's sweep: `model` at one point of `axis` (dim or depth), merged over seeds.
struct SweepRecord {
    var axis: String
    var value: Int
    var model: String
    var record: EvaluationRecord
}

/// Everything the claims read, gathered from cached results (plain values, so tests can build fixtures).
struct ResultSet {
    /// Which models the headline compares (experiments.yaml `roles:`).
    var roles: Roles
    /// dataset -> model -> evaluation merged over seeds (`EvaluationRecord.merging`).
    var evaluations: [String: [String: EvaluationRecord]] = [:]
    /// Every seed's evaluation, in graph order (what `evaluations` merges).
    var runs: [EvaluationRecord] = []
    /// Datasets in table order with their labels.
    var datasets: [(name: String, label: String)] = []
    /// What decides each dataset's group in claims.yaml (synthetic or real, K items).
    var facts: [String: DatasetFacts] = [:]
    /// Figure 1's points (every model and axis it sweeps).
    var sweep: [SweepRecord] = []
    /// Each seed's run of Figure 1's points (what `sweep` merges), for runs.csv.
    var sweepRuns: [EvaluationRecord] = []
    var sweepDatasetLabel: String?
    /// Table 6 rows, one per (model, row kind, seed).
    var transfer: [TransferRecord] = []
    /// Per-row 0-based ranks of the target for each (dataset, model, seed) run: test-set noise for the bootstrap.
    var rowRanks: [String: [Int32]] = [:]
    var profile: String = ""

    func record(_ dataset: String, _ model: String) -> EvaluationRecord? { evaluations[dataset]?[model] }

    static func rankKey(_ dataset: String, _ model: String, _ seed: UInt64) -> String { "\(dataset)/\(model)/\(seed)" }
    func ranks(_ dataset: String, _ model: String, seed: UInt64) -> [Int32]? {
        rowRanks[Self.rankKey(dataset, model, seed)]
    }

    /// Figure 1's run of `model` at `value` on `axis` (on `dataset` when given).
    func sweepRecord(_ model: String, axis: String, value: Int, dataset: String? = nil) -> EvaluationRecord? {
        sweep.first {
            $0.axis == axis && $0.value == value && $0.model == model
                && (dataset == nil || $0.record.dataset == dataset)
        }?.record
    }

    /// `EvaluationRecord.learned` against the dataset's MostPop run (true for a model that was not run).
    func learned(_ dataset: String, _ model: String) -> Bool {
        record(dataset, model)?.learned(mostPop: record(dataset, roles.popularity)) ?? true
    }

    /// How tables print a model (its name when no run of it was loaded).
    func label(_ model: String) -> String {
        evaluations.values.lazy.compactMap { $0[model]?.label }.first ?? transfer.first { $0.model == model }?.label
            ?? model
    }

    /// The baseline's label, for evidence text.
    var baseline: String { label(roles.baseline) }
}
