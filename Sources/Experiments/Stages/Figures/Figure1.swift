import Datasets
import Foundation
import Models
import Pipeline
import Reports

/// One point of Figure 1's sweep: which axis it varies and the evaluate stages (one per seed) that measured it.
struct Fig1Point: Codable, Hashable {
    var axis: String
    var value: Int
    var stages: [StageID]
    /// The model swept, for every model but the figure's first (nil keeps the first model's points, and so the
    /// figure's key, as they were before the figure drew more than one model).
    var model: String? = nil
    /// Printed name of `model`.
    var label: String? = nil
}

/// `figure/fig1`: NextItNet accuracy vs embedding size d and vs depth, parameter counts at each point.
struct Figure1Stage: TypedParameters {
    let dataset: String
    let datasetLabel: String
    let points: [Fig1Point]
    var id: StageID { StageID("figure/\(Self.kindName)") }
    // 7: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 7 }
    struct Parameters: Encodable {
        var dataset: String
        var points: [Fig1Point]
    }
    var typedParameters: Parameters { Parameters(dataset: datasetLabel, points: points) }
    var inputs: [StageID] {
        var ids: [StageID] = []
        for p in points { for s in p.stages where !ids.contains(s) { ids.append(s) } }
        return ids
    }
    var outputs: [String] { figureFiles(Self.kindName) }
    var publishes: [String: String] { figurePublishes(Self.kindName) }

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        // Every model drawn beside NextItNet (CpRec over the same d grid), in one colour each in both panels.
        var others: [String] = []
        for p in points { if let m = p.model, !others.contains(m) { others.append(m) } }
        let base = others.isEmpty ? "" : "NextItNet "
        for (axis, label) in [("dim", "embedding size d"), ("depth", "residual blocks (2 conv layers each)")] {
            let pts = points.filter { $0.axis == axis && $0.model == nil }.sorted { $0.value < $1.value }
            guard !pts.isEmpty else { continue }
            var mrr: [DataPoint] = [], hr: [DataPoint] = []
            for p in pts {
                let r = try EvaluateStage.load(context, p.stages)
                let params = DatasetStatistics.compact(r.params.total)
                mrr.append(
                    DataPoint(Double(p.value), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5), label: params))
                hr.append(DataPoint(Double(p.value), r.metric(.hr5) ?? .nan, yError: errorBar(r, .hr5)))
            }
            var series = [
                Series("\(base)\(Metric.mrr5.rawValue)", points: mrr, linetype: 1),
                Series("\(base)\(Metric.hr5.rawValue)", points: hr, linetype: 2)
            ]
            for (k, m) in others.enumerated() {
                let own = points.filter { $0.axis == axis && $0.model == m }.sorted { $0.value < $1.value }
                guard !own.isEmpty else { continue }
                var line: [DataPoint] = []
                for p in own {
                    let r = try EvaluateStage.load(context, p.stages)
                    line.append(
                        DataPoint(
                            Double(p.value), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5),
                            label: DatasetStatistics.compact(r.params.total)))
                }
                series.append(Series("\(own[0].label ?? m) \(Metric.mrr5.rawValue)", points: line, linetype: k + 3))
            }
            let models = others.isEmpty || axis == "depth" ? "NextItNet" : "NextItNet and CpRec"
            var title = "\(models): accuracy vs \(axis == "dim" ? "d" : "depth") (labels: parameters)"
            if axis == "depth", panels.count == 1 { title += "; key: left panel" }
            panels.append(
                Panel(
                    title: title,
                    xLabel: label, yLabel: "accuracy (mean ± sd over seeds)", xLog: axis == "dim",
                    // Room beside the outer points for their parameter labels.
                    xRange: axis == "dim"
                        ? Double(pts[0].value) / 1.4...Double(pts[pts.count - 1].value) * 1.6
                        : Double(pts[0].value) - 0.4...Double(pts[pts.count - 1].value) + 0.8,
                    series: series,
                    // One key for both panels, placed on the first below: it holds every series name.
                    legend: .hidden, xTics: pts.map { Double($0.value) }))
        }
        if let first = panels.first {
            panels[0].legend = first.uncrowdedLegend(panelWidth: 640, panelHeight: 480)
        }
        // The paper's width claim is d = 64 -> 512: a grid that stops short cannot test it, and says so.
        var title = "Figure 1: model size vs accuracy on \(datasetLabel)"
        if let top = points.filter({ $0.axis == "dim" }).map(\.value).max(), top < 512 {
            title += " (the d grid ends at \(top): the paper's 64 -> 512 gain is not measured here)"
        }
        let figure = Figure(
            title: title, panels: panels, panelWidth: 640, panelHeight: 480,
            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: Self.kindName)
    }
}

extension Figure1Stage: GraphOutput {
    static let kindName = "fig1"
    static let profileKey: String? = "figure1"
    static func declared(in profile: ProfileSpec) -> Bool { profile.figure1 != nil }
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        guard let f = graph.profile.figure1 else { return [] }
        let stage = Figure1Stage(
            dataset: f.dataset, datasetLabel: try graph.label(f.dataset).label, points: graph.sweep)
        graph.add(stage)
        return [kindName]
    }
}
