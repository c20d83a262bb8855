import Datasets
import Foundation
import Models
import Pipeline
import Reports

/// `figure/pareto`: parameters vs MRR@5 of every trained model the spec lists (all families), one panel per dataset.
struct ParetoFigureStage: TypedParameters {
    static let panelSize = (width: 620, height: 480)
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let seeds: [UInt64]
    /// Models that run on more seeds than `seeds` (profiles.yaml `claimSeeds`).
    var seedsByModel: [String: [UInt64]] = [:]
    /// Datasets that run a subset of the models (profiles.yaml `perDataset.<d>.models`): their panel draws that subset.
    var only: [String: [String]] = [:]
    var id: StageID { StageID("figure/\(Self.kindName)") }
    // 9: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 9 }
    struct Parameters: Encodable {
        var datasets: [DatasetLabel]
        var models: [String]
        var labels: [String]
        var seeds: [UInt64]
        // Only when not empty, so the keys of profiles without them are what they were.
        var seedsByModel: [String: [UInt64]]?
        var only: [String: [String]]?
    }
    var typedParameters: Parameters {
        Parameters(
            datasets: datasets, models: models.map(\.name), labels: models.map(\.label), seeds: seeds,
            seedsByModel: seedsByModel.isEmpty ? nil : seedsByModel, only: only.isEmpty ? nil : only)
    }
    func seeds(for model: String) -> [UInt64] { seedsByModel[model] ?? seeds }
    /// The models of the panel of `dataset`.
    func models(on dataset: String) -> [ModelEntry] {
        guard let subset = only[dataset] else { return models }
        return models.filter { subset.contains($0.name) }
    }
    var inputs: [StageID] {
        datasets.flatMap { ds in
            models(on: ds.name).flatMap {
                EvaluateStage.stageIDs(dataset: ds.name, model: $0.name, seeds: seeds(for: $0.name))
            }
        }
    }
    var outputs: [String] { figureFiles(Self.kindName) }
    var publishes: [String: String] { figurePublishes(Self.kindName) }

    /// The family a model is drawn in: its own colour and marker in every panel.
    static func family(_ m: ModelEntry) -> String {
        let c = m.config
        // Another backbone: one family for all its variants, so it reads as its own cloud beside NextItNet's.
        switch c.kind {
        case .sasrec: return "SASRec / CpRec-SASRec"
        case .gru4rec: return "GRU4Rec / block-wise GRU4Rec"
        case .caser: return "Caser"
        case .mostpop: return "MostPop"
        case .nextitnet: break
        }
        let blockwise = c.input != .full || c.output != .full
        switch (blockwise, c.sharing != .none) {
        case (true, true): return "CpRec (block-wise + sharing)"
        case (true, false): return "block-wise / low-rank only"
        case (false, true): return "sharing only"
        case (false, false): return "NextItNet"
        }
    }

    /// Indices of the points no other point beats on both axes (fewer parameters and higher MRR@5), by size.
    static func front(_ points: [DataPoint]) -> [Int] {
        let order = points.indices.sorted { (points[$0].x, -points[$0].y) < (points[$1].x, -points[$1].y) }
        var best = -Double.infinity
        var out: [Int] = []
        for i in order where points[i].y > best {
            out.append(i)
            best = points[i].y
        }
        return out
    }

    /// The palette entry of the k-th family: every entry but the front's black, so seven families stay apart.
    static func familyLinetype(_ k: Int) -> Int {
        let entries = (1...Palette.colours.count).filter { $0 != Palette.black }
        return entries[k % entries.count]
    }

    /// Points one marker covers: the same parameter count and MRR@5 within `tolerance`, best first (CpRec-Al and
    /// -Ab have equal sizes and near-equal accuracy). Every index is in exactly one group, groups in first-index order.
    static func coincident(_ points: [DataPoint], tolerance: Double) -> [[Int]] {
        var assigned = Set<Int>()
        var groups: [[Int]] = []
        for i in points.indices where !assigned.contains(i) {
            let group = points.indices.filter { j in
                !assigned.contains(j) && points[j].x == points[i].x && abs(points[j].y - points[i].y) <= tolerance
            }.sorted { points[$0].y > points[$1].y }
            assigned.formUnion(group)
            groups.append(group)
        }
        return groups
    }

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        let families = models.map(Self.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for ds in datasets {
            let models = self.models(on: ds.name)
            if models.isEmpty { continue }
            var points: [DataPoint] = []
            for m in models {
                let r = try EvaluateStage.load(context, dataset: ds.name, model: m.name, seeds: seeds(for: m.name))
                points.append(
                    DataPoint(
                        Double(r.params.total), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5),
                        label: m.label))
            }
            // The front over every model of the panel, whatever its family: a baseline can dominate a CpRec variant.
            let frontOrder = Self.front(points)
            let front = Set(frontOrder)
            let ys = points.map(\.y).filter(\.isFinite)
            // Markers closer than 2 % of the panel's height overlap at this size: draw them once, label them together.
            let groups = Self.coincident(points, tolerance: 0.02 * ((ys.max() ?? 0) - (ys.min() ?? 0)))
            // Labels only on the front: the dominated points crowd together and their names would collide.
            var drawn: [(family: String, point: DataPoint)] = []
            for g in groups {
                var p = points[g[0]]
                p.label = front.contains(g[0]) ? g.map { models[$0].label }.joined(separator: ", ") : nil
                drawn.append((Self.family(models[g[0]]), p))
            }
            var series = [
                Series(
                    "Pareto front", points: frontOrder.map { DataPoint(points[$0].x, points[$0].y) },
                    style: .lines, linetype: Palette.black)
            ]
            for (k, f) in families.enumerated() {
                let own = drawn.filter { $0.family == f }.map(\.point)
                if !own.isEmpty {
                    series.append(Series(f, points: own, style: .points, linetype: Self.familyLinetype(k)))
                }
            }
            // One key, in the first panel: in a corner it would cover no point of, else below the plot.
            var panel = Panel(
                title: ds.label, xLabel: "parameters (whole model)", yLabel: "MRR@5 (mean ± sd over seeds)",
                xLog: true, series: series, legend: .hidden)
            if ds == datasets.first {
                panel.legend = panel.uncrowdedLegend(
                    panelWidth: Self.panelSize.width, panelHeight: Self.panelSize.height)
            }
            panels.append(panel)
        }
        let figure = Figure(
            title: "Size vs accuracy, every trained model (labels: Pareto front)",
            panels: panels, rows: 1,
            panelWidth: Self.panelSize.width, panelHeight: Self.panelSize.height,
            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: Self.kindName)
    }
}

extension ParetoFigureStage: GraphOutput {
    static let kindName = "pareto"
    /// Every dataset gets a panel; one that runs a subset of the models draws that subset (its front is over them).
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        let specs = graph.specs
        let profile = graph.profile
        let stage = ParetoFigureStage(
            datasets: graph.mainLabels, models: try specs.paretoModels.map { try specs.model($0, profile: profile) },
            seeds: profile.seeds, seedsByModel: profile.seedsByModel,
            only: graph.restricted.mapValues { names in specs.paretoModels.filter { names.contains($0) } })
        graph.add(stage)
        return [kindName]
    }
}
