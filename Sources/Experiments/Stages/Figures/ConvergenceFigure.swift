import Datasets
import Foundation
import Models
import Pipeline
import Reports

/// `figure/convergence`: validation MRR@5 per epoch, mean ± sd over seeds with each seed's selected epoch, one
/// column per dataset; the second row puts the same curves on a wall-clock axis (the paper's speed claim is about
/// time).
struct ConvergenceFigureStage: TypedParameters {
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    /// The seeds of each model (claim models may have more than the profile's `seeds`).
    let seeds: [String: [UInt64]]
    var id: StageID { StageID("figure/\(Self.kindName)") }
    // 7: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 7 }
    struct Parameters: Encodable {
        var datasets: [DatasetLabel]
        var models: [String]
        var labels: [String]
        var seeds: [String: [UInt64]]
    }
    var typedParameters: Parameters {
        Parameters(datasets: datasets, models: models.map(\.name), labels: models.map(\.label), seeds: seeds)
    }
    func seeds(for model: String) -> [UInt64] { seeds[model] ?? [] }
    var inputs: [StageID] {
        datasets.flatMap { ds in
            models.flatMap { m in
                seeds(for: m.name).map { TrainStage.stageID(dataset: ds.name, model: m.name, seed: $0) }
            }
        }
    }
    var outputs: [String] { figureFiles(Self.kindName) }
    var publishes: [String: String] { figurePublishes(Self.kindName) }

    /// One seed's curve: (epoch, selection-split MRR@5), its selected epoch, and its mean wall seconds per epoch.
    struct Curve {
        var points: [(epoch: Int, mrr: Double)]
        var best: Int
        var secondsPerEpoch: Double?
    }

    /// Mean ± sd over the seeds still training at each epoch (a band needs two; one seed's tail is drawn alone).
    static func band(_ curves: [Curve]) -> [DataPoint] {
        let last = curves.flatMap { $0.points.map(\.epoch) }.max() ?? 0
        guard last > 0 else { return [] }
        return (1...last).compactMap { e in
            let v = curves.compactMap { c in c.points.first { $0.epoch == e }?.mrr }
            guard !v.isEmpty else { return nil }
            let s = SampleSummary(v)
            return DataPoint(Double(e), s.mean, yError: v.count > 1 ? s.sd : 0)
        }
    }

    func run(_ context: StageContext) throws {
        var top: [Panel] = [], bottom: [Panel] = []
        for ds in datasets {
            var byEpoch: [Series] = [], byTime: [Series] = []
            var selectedEpoch: [Series] = [], selectedTime: [Series] = []
            for (k, m) in models.enumerated() {
                var curves: [Curve] = []
                for seed in seeds(for: m.name) {
                    let id = TrainStage.stageID(dataset: ds.name, model: m.name, seed: seed)
                    let record = try JSONFiles.read(
                        TrainRecord.self,
                        from: try context.inputDirectory(id).appendingPathComponent(TrainStage.recordName))
                    let pts = record.history.compactMap { e in
                        (e.validMRR5 ?? e.testMRR5).map { (epoch: e.epoch, mrr: $0) }
                    }
                    let total = context.inputMeasurement(id, Timing.secondsTotal)
                    curves.append(
                        Curve(
                            points: pts, best: record.bestEpoch,
                            secondsPerEpoch: total.map { $0 / Double(max(record.history.count, 1)) }))
                }
                let mean = Self.band(curves)
                guard !mean.isEmpty else { continue }
                let lt = k % (Palette.colours.count - 2) + 1
                let n = curves.count
                let chosen = curves.compactMap { c in
                    c.points.first { $0.epoch == c.best }.map { DataPoint(Double($0.epoch), $0.mrr) }
                }
                byEpoch += [
                    Series("\(m.label) ± sd", points: mean, style: .band, linetype: lt, inKey: false),
                    Series(
                        "\(m.label) (mean of \(n) seed\(n == 1 ? "" : "s"))",
                        points: mean.map { DataPoint($0.x, $0.y) },
                        style: .lines, linetype: lt)
                ]
                selectedEpoch.append(
                    Series("\(m.label): each seed's selected epoch", points: chosen, style: .points, linetype: lt))
                // Wall clock: epoch × the model's mean measured epoch time (training plus validation).
                let perEpoch = curves.compactMap(\.secondsPerEpoch)
                let spe = perEpoch.reduce(0, +) / Double(max(perEpoch.count, 1))
                if perEpoch.count == curves.count, spe > 0 {
                    byTime += [
                        Series(
                            "\(m.label) ± sd", points: mean.map { DataPoint($0.x * spe, $0.y, yError: $0.yError) },
                            style: .band, linetype: lt, inKey: false),
                        Series(
                            "\(m.label)", points: mean.map { DataPoint($0.x * spe, $0.y) }, style: .lines, linetype: lt)
                    ]
                    selectedTime.append(
                        Series(
                            "\(m.label) selected", points: chosen.map { DataPoint($0.x * spe, $0.y) },
                            style: .points, linetype: lt, inKey: false))
                }
            }
            guard !byEpoch.isEmpty else { continue }
            top.append(
                Panel(
                    title: ds.label, xLabel: "epoch", yLabel: "validation MRR@5 (mean ± sd over seeds)",
                    series: byEpoch + selectedEpoch, legend: top.isEmpty ? .bottomRight : .hidden))
            if !byTime.isEmpty {
                bottom.append(
                    Panel(
                        title: "\(ds.label): the same against wall-clock time",
                        xLabel: "seconds (epoch × measured mean epoch time, 1 thread)",
                        yLabel: "validation MRR@5", series: byTime + selectedTime, legend: .hidden))
            }
        }
        guard !top.isEmpty else { throw ReportError.invalidFigure("convergence: no training history to draw") }
        let rows = bottom.count == top.count ? 2 : 1
        let figure = Figure(
            title: "Convergence (band: ± sd over seeds; dots: epoch each seed kept)",
            panels: rows == 2 ? top + bottom : top, rows: rows,
            panelWidth: 520, panelHeight: 400, provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: Self.kindName)
    }
}

extension ConvergenceFigureStage: GraphOutput {
    static let kindName = "convergence"
    /// Convergence on every dataset its models all run on (Weishi-20K included).
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        let specs = graph.specs
        let profile = graph.profile
        let datasets = profile.datasets.filter { ds in specs.convergenceModels.allSatisfy { profile.runs($0, on: ds) } }
        let stage = ConvergenceFigureStage(
            datasets: try datasets.map(graph.label),
            models: try specs.convergenceModels.map { try specs.model($0, profile: profile) },
            seeds: Dictionary(uniqueKeysWithValues: specs.convergenceModels.map { ($0, profile.seeds(for: $0)) }))
        graph.add(stage)
        return [kindName]
    }
}
