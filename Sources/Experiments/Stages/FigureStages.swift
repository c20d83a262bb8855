import Datasets
import Foundation
import Models
import Pipeline
import Reports

private func figureFiles(_ name: String) -> [String] { ["dat", "gp", "png", "svg"].map { "\(name).\($0)" } }
private func figurePublishes(_ name: String) -> [String: String] {
    Dictionary(uniqueKeysWithValues: figureFiles(name).map { ($0, "figures/\($0)") })
}

/// `figure/longtail`: item popularity rank vs frequency (log–log), block boundaries marked, one panel per dataset.
struct LongTailFigureStage: Stage {
    let datasets: [DatasetLabel]
    let preps: [StageID]
    let blocks: [StageID]
    var id: StageID { "figure/longtail" }
    var version: Int { 2 }
    var parameters: JSONValue { .object(["datasets": .encoded(datasets)]) }
    var inputs: [StageID] { preps + blocks }
    var outputs: [String] { figureFiles("longtail") }
    var publishes: [String: String] { figurePublishes("longtail") }

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        for (i, ds) in datasets.enumerated() {
            let counts = try PreparedDataset.loadItemCounts(from: try context.inputDirectory(preps[i]))
            let b = try BlocksStage.load(try context.inputDirectory(blocks[i]))
            let points = DatasetStatistics.rankFrequency(counts: counts).filter { $0.frequency > 0 }
                .map { DataPoint(Double($0.rank), Double($0.frequency)) }
            // Boundary ids are exclusive upper ids, so the last item of block j has rank boundary - 1.
            let markers = b.boundaries.dropLast().enumerated().map { j, upper in
                // Short labels: neighbouring boundaries sit less than a decade apart on the log axis.
                Marker(x: Double(max(upper - 1, 1)), label: "\(j + 1)|\(j + 2)")
            }
            panels.append(Panel(title: ds.label, xLabel: "item popularity rank", yLabel: "interactions",
                                xLog: true, yLog: true, series: [Series("items", points: points, style: .lines)],
                                markers: markers, legend: .hidden))
        }
        let figure = Figure(title: "Long-tail item popularity and CpRec's frequency blocks (dashed: block boundaries i|i+1)", panels: panels,
                            rows: panels.count > 2 ? 2 : 1, panelWidth: 560, panelHeight: 420,
                            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: "longtail")
    }
}

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
struct Figure1Stage: Stage {
    let dataset: String
    let datasetLabel: String
    let points: [Fig1Point]
    var id: StageID { "figure/fig1" }
    var version: Int { 4 }
    var parameters: JSONValue { .object(["dataset": .string(datasetLabel), "points": .encoded(points)]) }
    var inputs: [StageID] {
        var ids: [StageID] = []
        for p in points { for s in p.stages where !ids.contains(s) { ids.append(s) } }
        return ids
    }
    var outputs: [String] { figureFiles("fig1") }
    var publishes: [String: String] { figurePublishes("fig1") }

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        for (axis, label) in [("dim", "embedding size d"), ("depth", "residual blocks (2 conv layers each)")] {
            let pts = points.filter { $0.axis == axis && $0.model == nil }.sorted { $0.value < $1.value }
            guard !pts.isEmpty else { continue }
            var mrr: [DataPoint] = [], hr: [DataPoint] = []
            for p in pts {
                let r = try EvaluateStage.load(context, p.stages)
                let params = DatasetStatistics.compact(r.params.total)
                mrr.append(DataPoint(Double(p.value), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5), label: params))
                hr.append(DataPoint(Double(p.value), r.metric(.hr5) ?? .nan, yError: errorBar(r, .hr5)))
            }
            var series = [Series(Metric.mrr5.rawValue, points: mrr), Series(Metric.hr5.rawValue, points: hr)]
            // Further models (CpRec beside NextItNet over the same d grid): their MRR@5, labelled with their size.
            var others: [String] = []
            for p in points where p.axis == axis { if let m = p.model, !others.contains(m) { others.append(m) } }
            for m in others {
                let own = points.filter { $0.axis == axis && $0.model == m }.sorted { $0.value < $1.value }
                var line: [DataPoint] = []
                for p in own {
                    let r = try EvaluateStage.load(context, p.stages)
                    line.append(DataPoint(Double(p.value), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5),
                                          label: DatasetStatistics.compact(r.params.total)))
                }
                series.append(Series("\(own.first?.label ?? m) \(Metric.mrr5.rawValue)", points: line))
            }
            if !others.isEmpty, axis == "dim" {
                series[0] = Series("NextItNet \(Metric.mrr5.rawValue)", points: mrr)
                series[1] = Series("NextItNet \(Metric.hr5.rawValue)", points: hr)
            }
            panels.append(Panel(title: "\(others.isEmpty ? "NextItNet" : "NextItNet and CpRec") on \(datasetLabel): accuracy vs \(axis == "dim" ? "d" : "depth") (labels: parameters)",
                                xLabel: label, yLabel: "accuracy (mean ± sd over seeds)", xLog: axis == "dim",
                                // Room beside the outer points for their parameter labels.
                                xRange: axis == "dim" ? Double(pts[0].value) / 1.4 ... Double(pts[pts.count - 1].value) * 1.6
                                    : Double(pts[0].value) - 0.4 ... Double(pts[pts.count - 1].value) + 0.8,
                                series: series,
                                // One key, where neither panel has points: the top right of the depth panel.
                                legend: axis == "depth" || (!others.isEmpty && axis == "dim") ? .topRight : .hidden, xTics: pts.map { Double($0.value) }))
        }
        let figure = Figure(title: "Figure 1: model size vs accuracy", panels: panels, panelWidth: 640, panelHeight: 480,
                            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: "fig1")
    }
}

/// Error bar of a merged record: the standard deviation over seeds (nil with one seed).
func errorBar(_ r: EvaluationRecord, _ metric: Metric) -> Double? {
    r.values(metric).count > 1 ? r.sd(metric) : nil
}

/// `figure/pareto`: parameters vs MRR@5 of every NextItNet / CpRec variant (and the SASRec family), one panel per dataset.
struct ParetoFigureStage: Stage {
    static let panelSize = (width: 620, height: 480)
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let seeds: [UInt64]
    /// Models that run on more seeds than `seeds` (profiles.yaml `claimSeeds`).
    var seedsByModel: [String: [UInt64]] = [:]
    var id: StageID { "figure/pareto" }
    var version: Int { 6 }
    var parameters: JSONValue {
        var p: [String: JSONValue] = ["datasets": .encoded(datasets), "models": .encoded(models.map(\.name)),
                                      "labels": .encoded(models.map(\.label)), "seeds": .encoded(seeds)]
        if !seedsByModel.isEmpty { p["seedsByModel"] = .encoded(seedsByModel) }
        return .object(p)
    }
    func seeds(for model: String) -> [UInt64] { seedsByModel[model] ?? seeds }
    var inputs: [StageID] {
        datasets.flatMap { ds in models.flatMap { EvaluateStage.stageIDs(dataset: ds.name, model: $0.name, seeds: seeds(for: $0.name)) } }
    }
    var outputs: [String] { figureFiles("pareto") }
    var publishes: [String: String] { figurePublishes("pareto") }

    /// The family a model is drawn in: its own colour and marker in every panel.
    static func family(_ m: ModelEntry) -> String {
        let c = m.config
        // Another backbone: one family for all its variants, so it reads as its own cloud beside NextItNet's.
        if c.kind == .sasrec { return "SASRec / CpRec-SASRec" }
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

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        let families = models.map(Self.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for ds in datasets {
            var points: [DataPoint] = []
            for m in models {
                let r = try EvaluateStage.load(context, dataset: ds.name, model: m.name, seeds: seeds(for: m.name))
                points.append(DataPoint(Double(r.params.total), r.metric(.mrr5) ?? .nan, yError: errorBar(r, .mrr5),
                                        label: m.label))
            }
            let front = Self.front(points)
            // Labels only on the front: the dominated points crowd together and their names would collide.
            // The front first, so it takes the palette's first (dark) colour; the families follow.
            var series = [Series("Pareto front", points: front.map { DataPoint(points[$0].x, points[$0].y) }, style: .lines)]
            series += families.map { f in
                Series(f, points: models.indices.filter { Self.family(models[$0]) == f }.map { i in
                    var p = points[i]
                    if !front.contains(i) { p.label = nil }
                    return p
                }, style: .points)
            }
            // One key, in the first panel: in a corner it would cover no point of, else below the plot.
            var panel = Panel(title: ds.label, xLabel: "parameters (whole model)", yLabel: "MRR@5 (mean ± sd over seeds)",
                              xLog: true, series: series, legend: .hidden)
            if ds == datasets.first { panel.legend = panel.uncrowdedLegend(panelWidth: Self.panelSize.width, panelHeight: Self.panelSize.height) }
            panels.append(panel)
        }
        let figure = Figure(title: "Model size vs accuracy (labels: the Pareto front)", panels: panels, rows: 1,
                            panelWidth: Self.panelSize.width, panelHeight: Self.panelSize.height,
                            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: "pareto")
    }
}

/// `figure/convergence`: validation MRR@5 per epoch of the first seed's runs, one panel per dataset.
struct ConvergenceFigureStage: Stage {
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let seed: UInt64
    var id: StageID { "figure/convergence" }
    var version: Int { 4 }
    var parameters: JSONValue { .object(["datasets": .encoded(datasets), "models": .encoded(models.map(\.name)),
                                         "labels": .encoded(models.map(\.label)), "seed": .number(Double(seed))]) }
    var inputs: [StageID] {
        datasets.flatMap { ds in models.map { TrainStage.stageID(dataset: ds.name, model: $0.name, seed: seed) } }
    }
    var outputs: [String] { figureFiles("convergence") }
    var publishes: [String: String] { figurePublishes("convergence") }

    func run(_ context: StageContext) throws {
        var panels: [Panel] = []
        for ds in datasets {
            var series: [Series] = []
            var selected: [Series] = []
            for m in models {
                let dir = try context.inputDirectory(TrainStage.stageID(dataset: ds.name, model: m.name, seed: seed))
                let record = try JSONFiles.read(TrainRecord.self, from: dir.appendingPathComponent(TrainStage.recordName))
                series.append(Series(m.label, points: record.history.compactMap { e in
                    (e.validMRR5 ?? e.testMRR5).map { DataPoint(Double(e.epoch), $0) }
                }))
                // The selected epoch as its own point (a labelled vertical line per model collides with the other's).
                if let best = record.history.first(where: { $0.epoch == record.bestEpoch }), let v = best.validMRR5 ?? best.testMRR5 {
                    selected.append(Series("\(m.label) selected epoch", points: [DataPoint(Double(best.epoch), v)], style: .points))
                }
            }
            panels.append(Panel(title: ds.label, xLabel: "epoch", yLabel: "MRR@5 (selection split)", series: series + selected,
                                legend: .bottomRight))
        }
        let figure = Figure(title: "Convergence: NextItNet vs CpRec (seed \(seed))", panels: panels, rows: 1,
                            panelWidth: 560, panelHeight: 420, provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: "convergence")
    }
}
