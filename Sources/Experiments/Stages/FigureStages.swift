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
    // 4: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 4 }
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
            panels.append(
                Panel(
                    title: ds.label, xLabel: "item popularity rank", yLabel: "interactions",
                    xLog: true, yLog: true, series: [Series("items", points: points, style: .lines)],
                    markers: markers, legend: .hidden))
        }
        let figure = Figure(
            title: "Item popularity and CpRec's blocks (dashed: boundary i|i+1)", panels: panels,
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
    // 7: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 7 }
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
        try figure.render(to: context.outputDirectory, name: "fig1")
    }
}

/// Error bar of a merged record: the standard deviation over seeds (nil with one seed).
func errorBar(_ r: EvaluationRecord, _ metric: Metric) -> Double? {
    r.values(metric).count > 1 ? r.sd(metric) : nil
}

/// `figure/pareto`: parameters vs MRR@5 of every trained model the spec lists (all families), one panel per dataset.
struct ParetoFigureStage: Stage {
    static let panelSize = (width: 620, height: 480)
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let seeds: [UInt64]
    /// Models that run on more seeds than `seeds` (profiles.yaml `claimSeeds`).
    var seedsByModel: [String: [UInt64]] = [:]
    /// Datasets that run a subset of the models (profiles.yaml `perDataset.<d>.models`): their panel draws that subset.
    var only: [String: [String]] = [:]
    var id: StageID { "figure/pareto" }
    // 9: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 9 }
    var parameters: JSONValue {
        var p: [String: JSONValue] = [
            "datasets": .encoded(datasets), "models": .encoded(models.map(\.name)),
            "labels": .encoded(models.map(\.label)), "seeds": .encoded(seeds)
        ]
        if !seedsByModel.isEmpty { p["seedsByModel"] = .encoded(seedsByModel) }
        if !only.isEmpty { p["only"] = .encoded(only) }
        return .object(p)
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
    var outputs: [String] { figureFiles("pareto") }
    var publishes: [String: String] { figurePublishes("pareto") }

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
        try figure.render(to: context.outputDirectory, name: "pareto")
    }
}

/// `figure/convergence`: validation MRR@5 per epoch, mean ± sd over seeds with each seed's selected epoch, one
/// column per dataset; the second row puts the same curves on a wall-clock axis (the paper's speed claim is about
/// time).
struct ConvergenceFigureStage: Stage {
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    /// The seeds of each model (claim models may have more than the profile's `seeds`).
    let seeds: [String: [UInt64]]
    var id: StageID { "figure/convergence" }
    // 7: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    var version: Int { 7 }
    var parameters: JSONValue {
        .object([
            "datasets": .encoded(datasets), "models": .encoded(models.map(\.name)),
            "labels": .encoded(models.map(\.label)), "seeds": .encoded(seeds)
        ])
    }
    func seeds(for model: String) -> [UInt64] { seeds[model] ?? [] }
    var inputs: [StageID] {
        datasets.flatMap { ds in
            models.flatMap { m in
                seeds(for: m.name).map { TrainStage.stageID(dataset: ds.name, model: m.name, seed: $0) }
            }
        }
    }
    var outputs: [String] { figureFiles("convergence") }
    var publishes: [String: String] { figurePublishes("convergence") }

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
        try figure.render(to: context.outputDirectory, name: "convergence")
    }
}
