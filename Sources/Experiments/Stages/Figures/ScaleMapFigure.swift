import Datasets
import Evaluation
import Foundation
import Kernels
import Models
import NeuralNet
import Pipeline
import Reports

/// One cell of the scale map: a model at vocabulary K and width d on untrained weights, every tail block scored.
struct ScaleCell: Codable {
    var K: Int
    var dim: Int
    var model: String
    var label: String
    var params: Int
    /// Input + output layer parameters.
    var ioParams: Int
    /// The output layer's share of one test sequence's inference FLOPs (all positions through the convolutions,
    /// the output layer at the last one; the tree softmax with every block scored).
    var outputFlopShare: Double
    /// Median seconds for one sequence's top-5 at batch 1, every tail block scored (nil: skipped for memory).
    /// Pruning is not timed here: on untrained weights the head's softmax is flat and the exact rule skips nearly
    /// every tail block, which trained models do not (evaluate stages measure pruning on trained models).
    var batch1: Double?
    /// Median seconds per sequence at batch 128, every tail block scored.
    var batch128: Double?
    /// The reference's median seconds in the same runs, timed in alternation with this model (so both saw the same
    /// load): batch 1 beside `batch1`, and batch 128 per sequence. Nil for the reference.
    var reference1: Double? = nil
    var reference128: Double? = nil
    var skipped: String?
}

/// `figure/scalemap`: where CpRec's compression and inference speed claims hold. For NextItNet and each CpRec
/// variant over vocabularies K × widths d: parameters, the output layer's FLOP share and the top-5 time at
/// batch 1 and 128 with every tail block scored, on untrained weights through the same model code as training and
/// evaluation.
struct ScaleMapStage: TypedParameters {
    /// Cells whose values + gradients would exceed this are skipped (1M × 256 and 512 full softmax).
    static let memoryLimit = 3 << 30
    static let seqLength = 20

    let spec: ScaleMapSpec
    /// The reference first (every speedup is its time over a model's), then the models timed against it.
    let models: [ModelEntry]
    /// The model the figure plots (experiments.yaml `figures.scalemap.plotted`).
    let plotted: String
    let threads: Int
    /// Cells over this many bytes of parameters and gradients are skipped (tests lower it).
    var memoryLimit = ScaleMapStage.memoryLimit
    var vocabularies: [Int] { spec.vocabularies }
    var dims: [Int] { spec.dims }
    var id: StageID { StageID("figure/\(Self.kindName)") }
    // 2: the profile's block widths (d, d/2, d/4), reference and model timed in alternation, the unpruned panel first.
    // 3: a reference skipped for memory gives no speedup (its first model was taken as the reference).
    // 4: pruning no longer timed (untrained heads make it optimistic); every block scored at batch 1 and 128.
    // 5, 6: labelled tics on the fitted log axes (6: a 1.5 tic no longer printed as "2").
    var version: Int { EngineRevision.stageVersion(6) }
    struct Parameters: Encodable {
        var models: [ModelConfig]
        var labels: [String]
        var plotted: String
        var K: [Int]
        var d: [Int]
        var budget: Double
        var threads: Int
        var t: Int
        var numerics: String
        /// Only when a test lowers it, so the shipped profiles' keys are what they were.
        var memoryLimit: Int?
    }
    var typedParameters: Parameters {
        Parameters(
            models: models.map(\.config), labels: models.map(\.label), plotted: plotted, K: spec.vocabularies,
            d: spec.dims, budget: spec.budget, threads: threads, t: Self.seqLength, numerics: BLAS.numericsIdentity,
            memoryLimit: memoryLimit == Self.memoryLimit ? nil : memoryLimit)
    }
    var inputs: [StageID] { [] }
    var preferredThreads: Int? { threads }
    var outputs: [String] {
        ["scalemap.json"] + ["dat", "gp", "png", "svg"].map { "scalemap.\($0)" }
            + ["md", "tex", "csv"].map { "scalemap-table.\($0)" }
    }
    var publishes: [String: String] {
        var p: [String: String] = [:]
        for e in ["dat", "gp", "png", "svg"] { p["scalemap.\(e)"] = "figures/scalemap.\(e)" }
        for e in ["md", "tex", "csv"] { p["scalemap-table.\(e)"] = "paper-tables/scalemap.\(e)" }
        return p
    }

    /// The authors' cutoffs (`BlockRule.authorsDefault`, [7000, 15000]) plus K where K > 20K, else the same
    /// proportions of K (0.35, 0.75).
    static func blocks(_ K: Int) -> [Int] {
        K > 20_000 ? BlockRule.authorsDefault.cutoffs + [K] : [K * 35 / 100, K * 75 / 100, K]
    }

    /// Inference FLOPs of one sequence: 2·t·k·d² per conv layer over every position, the output at the last.
    static func flops(_ c: ModelConfig, K: Int) -> (middle: Double, output: Double) {
        let d = Double(c.dim), t = Double(seqLength)
        let middle = Double(2 * c.dilations.count) * 2 * t * Double(c.kernel) * d * d
        switch c.output {
        case .full, .tied: return (middle, 2 * d * Double(K))
        case .lowrank: return (middle, 2 * d * Double(c.lowRank) + 2 * Double(c.lowRank) * Double(K))
        case .blockwise:
            let layout = NextItNet.layout(c, K)
            var out = 2 * d * Double(layout.bounds[0] + layout.tailCount)
            for i in 1..<layout.bounds.count {
                out += 2 * d * Double(layout.widths[i]) + 2 * Double(layout.widths[i] * layout.size(i))
            }
            return (middle, out)
        }
    }

    /// Timed with no other stage computing beside it (the runner's quiet gate).
    func run(_ context: StageContext) throws {
        try context.quietly { try Kernels.withThreads(context.threads) { try compute(context) } }
    }

    func compute(_ context: StageContext) throws {
        var cells: [ScaleCell] = []
        for d in dims {
            for K in vocabularies {
                var rng = Rng(seed: UInt64(K + d))
                let rows = 128
                let ids = (0..<(rows * (Self.seqLength + 1))).map { _ in Int32(1 + rng.int(below: K - 1)) }
                let seqs = SequenceSet(ids: ids, length: Self.seqLength + 1)
                var referenceNet: (any SequenceModel)?
                for m in models {
                    var c = m.config
                    c.dim = d
                    c.blocks = Self.blocks(K)
                    c.blockWidths = Self.widths(d)
                    let counts = NextItNet.closedFormParameterCounts(config: c, itemCount: K)
                    let total = counts.input + counts.middle + counts.output
                    let f = Self.flops(c, K: K)
                    var cell = ScaleCell(
                        K: K, dim: d, model: m.name, label: m.label, params: total,
                        ioParams: counts.input + counts.output, outputFlopShare: f.output / (f.middle + f.output))
                    // Values and gradients, 4 bytes each.
                    if total * 8 > memoryLimit {
                        cell.skipped = "\((total * 8) >> 30) GB of parameters and gradients"
                        cells.append(cell)
                        continue
                    }
                    context.progress("K \(K), d \(d): \(m.label)")
                    let net = try ModelFactory.make(c, itemCount: K, seed: 1)
                    net.treeSoftmax?.pruning = .off
                    if m.name == reference.name {
                        // The reference alone: its own row of the table (every speedup uses its alternated times).
                        referenceNet = net
                        cell.batch1 = Self.time([net], seqs, batch: 1, budget: spec.budget)?[0]
                        cell.batch128 = Self.time([net], seqs, batch: rows, budget: spec.budget).map {
                            $0[0] / Double(rows)
                        }
                        cells.append(cell)
                        continue
                    }
                    // A reference skipped for memory leaves the models' own times, and no speedup.
                    guard let referenceNet else {
                        cell.batch1 = Self.time([net], seqs, batch: 1, budget: spec.budget)?[0]
                        cells.append(cell)
                        continue
                    }
                    (cell.reference1, cell.batch1) = Self.pair(
                        Self.time([referenceNet, net], seqs, batch: 1, budget: spec.budget))
                    let t128 = Self.pair(Self.time([referenceNet, net], seqs, batch: rows, budget: spec.budget))
                    (cell.reference128, cell.batch128) = (
                        t128.0.map { $0 / Double(rows) }, t128.1.map { $0 / Double(rows) }
                    )
                    cells.append(cell)
                }
            }
        }
        try JSONFiles.write(cells, to: context.outputDirectory.appendingPathComponent("scalemap.json"))
        try table(cells).write(to: context.outputDirectory, name: "scalemap-table")
        try figure(cells).render(to: context.outputDirectory, name: "scalemap")
    }

    /// The profile's tail widths at width d (weishi-20k's 64/32/16 at d = 64): no block narrower than d/4.
    static func widths(_ d: Int) -> [Int] { [d, d / 2, d / 4] }

    /// Median seconds of one `topN` call on `batch` rows for each of `nets`, the nets called in turn on the same
    /// rows (which goes first alternates), repeated over different rows until they have spent `budget` seconds.
    static func time(_ nets: [any SequenceModel], _ seqs: SequenceSet, batch: Int, budget: Double) -> [Double]? {
        let batches = stride(from: 0, to: seqs.count - batch + 1, by: batch).map {
            seqs.contextAndTargets($0..<($0 + batch)).context
        }
        guard let first = batches.first else { return nil }
        for net in nets { _ = net.topN(first, n: 5) }  // sizes the workspaces
        var times = [[Double]](repeating: [], count: nets.count)
        var spent = 0.0, i = 0
        while spent < budget || times[0].isEmpty {
            let order = i % 2 == 0 ? Array(nets.indices) : nets.indices.reversed()
            for j in order {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = nets[j].topN(batches[i % batches.count], n: 5)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                times[j].append(dt)
                spent += dt
            }
            i += 1
        }
        return times.map { $0.sorted()[$0.count / 2] }
    }

    static func pair(_ t: [Double]?) -> (Double?, Double?) { (t?[0], t?[1]) }

    var reference: ModelEntry { models[0] }

    func baseline(_ cells: [ScaleCell], for c: ScaleCell) -> ScaleCell? {
        cells.first { $0.K == c.K && $0.dim == c.dim && $0.model == reference.name }
    }

    static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b > 0 else { return nil }
        return a / b
    }

    static func mark(_ s: Double?) -> String {
        guard let s else { return "" }
        return s >= 4 ? "≥ 4×" : s >= 2 ? "≥ 2×" : s >= 1.1 ? "≥ 1.1×" : ""
    }

    func table(_ cells: [ScaleCell]) -> Table {
        var t = Table(
            title: "Scale map: parameters and top-5 inference time vs vocabulary K and width d",
            caption:
                "Untrained weights, every tail block scored (no pruning): the time of a tree softmax whose clusters are all heavy, so the speedups here are what CpRec gets without any pruning. Pruning is not timed on untrained weights, whose flat head lets the exact rule skip nearly every tail block; trained models' pruning is measured in the evaluate stages (fast top-N table). t = \(Self.seqLength), kernel 3, \(threads) thread(s). Blocks: [7000, 15000, K] for K > 20K, else [0.35K, 0.75K, K]; widths d, d/2, d/4 (the profiles' 64/32/16 at d = 64). Cells whose parameters and gradients exceed \(memoryLimit >> 30) GiB are skipped.",
            columns: [
                .label("Model"), Column("K", format: .count), Column("d", format: .integer),
                Column("Params", format: .count), Column("Output FLOPs", format: .percent(1)),
                Column("Top-5 b1", unit: "ms", format: .decimal(3)), Column("Speedup b1", format: .times(2)),
                Column("Top-5 b128", unit: "ms/seq", format: .decimal(4)), Column("Speedup b128", format: .times(2)),
                Column("Mark (b1)", alignment: .left)
            ],
            groupTitle: "Width", provenance: RunFacts.provenance(profile: nil))
        for d in dims {
            t.addGroup("d = \(d)")
            for c in cells where c.dim == d {
                let s1 = Self.ratio(c.reference1, c.batch1)
                let s128 = Self.ratio(c.reference128, c.batch128)
                t.addRow([
                    .text(c.label), .number(Double(c.K)), .number(Double(c.dim)), .number(Double(c.params)),
                    .number(c.outputFlopShare), .optional(c.batch1.map { $0 * 1e3 }), .optional(s1),
                    .optional(c.batch128.map { $0 * 1e3 }), .optional(s128),
                    .text(c.skipped.map { "skipped: \($0)" } ?? (c.model == reference.name ? "" : Self.mark(s1)))
                ])
            }
        }
        t.notes = [
            "Speedup: \(reference.label)'s (full softmax) top-5 time over the model's at the same K, d and batch, the two called in alternation on the same rows (medians); CpRec's tree softmax scores every tail block. The reference's row gives its own time, measured alone.",
            "Output FLOPs: the output layer's share of one sequence's inference FLOPs (tree softmax with every block scored).",
            "Marks: batch-1 speedup ≥ 1.1×, ≥ 2×, ≥ 4×."
        ]
        return t
    }

    /// The variant the figure plots (the variants share the inference FLOPs; their batch-1 times differ through
    /// how much convolution weight must stream from memory).
    var representative: ModelEntry? { models.first { $0.name == plotted } }

    func figure(_ cells: [ScaleCell]) -> Figure {
        func panel(_ title: String, _ value: (ScaleCell) -> Double?, yLabel: String, thresholds: [Double]) -> Panel {
            var series: [Series] = []
            let variant = representative?.name ?? reference.name
            for d in dims {
                let pts = cells.filter { $0.dim == d && $0.model == variant }.compactMap { c in
                    value(c).map { DataPoint(Double(c.K), $0) }
                }
                if !pts.isEmpty { series.append(Series("d = \(d)", points: pts)) }
            }
            let range = Self.fittedRange(series.flatMap(\.points).map(\.y))
            // Reference lines are not data: out of the key, labelled at their right end, drawn only inside the data's
            // range.
            for s in thresholds where range.map({ $0.contains(s) }) ?? true {
                let name = s == s.rounded() ? "\(Int(s))×" : "\(s)×"
                series.append(
                    Series(
                        name,
                        points: [
                            DataPoint(Double(vocabularies.first!), s),
                            DataPoint(Double(vocabularies.last!), s, label: name)
                        ],
                        style: .lines, linetype: 8, inKey: false))
            }
            // A fitted log axis spans less than a decade: without explicit tics gnuplot labels one value or none.
            let tics = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32].filter { range?.contains($0) ?? true }
            return Panel(
                title: title, xLabel: "items K", yLabel: yLabel, xLog: true, yLog: true,
                xRange: Self.singleValueRange(series.flatMap(\.points).map(\.x)), yRange: range, series: series,
                legend: .topLeft, xTics: vocabularies.map(Double.init), yTics: tics)
        }
        let label = representative?.label ?? ""
        let b1 = panel(
            "\(label) vs \(reference.label): top-5 speedup, batch 1",
            { c in
                Self.ratio(c.reference1, c.batch1)
            }, yLabel: "speedup", thresholds: [1, 1.1, 2, 4])
        let b128 = panel(
            "top-5 speedup, batch 128",
            { c in
                Self.ratio(c.reference128, c.batch128)
            }, yLabel: "speedup", thresholds: [1, 1.1, 2, 4])
        let comp = panel(
            "compression (\(reference.label) params / \(label) params)",
            { c in
                baseline(cells, for: c).map { Double($0.params) / Double(c.params) }
            }, yLabel: "compression", thresholds: [1, 2, 4])
        return Figure(
            title:
                "Scale map: CpRec's speed (every tail block scored) and compression over K and d (untrained weights)",
            panels: [b1, b128, comp], rows: 1, panelWidth: 560, panelHeight: 440,
            provenance: RunFacts.provenance(profile: nil))
    }

    /// An x range for a panel whose points all sit at one K (a reference skipped at every other K, or one reference
    /// line left out): gnuplot's own range would be empty, and its warning fails the stage. Nil otherwise, so that
    /// gnuplot fits the axis as before.
    static func singleValueRange(_ xs: [Double]) -> ClosedRange<Double>? {
        guard let x = xs.first, x > 0, xs.allSatisfy({ $0 == x }) else { return nil }
        return (x / 1.5)...(x * 1.5)
    }

    /// A log axis around the data, a factor 1.5 of margin below and above (nil without data).
    static func fittedRange(_ ys: [Double]) -> ClosedRange<Double>? {
        let v = ys.filter { $0 > 0 && $0.isFinite }
        guard let lo = v.min(), let hi = v.max() else { return nil }
        return (lo / 1.5)...(hi * 1.5)
    }
}

extension ScaleMapStage: GraphOutput {
    static let kindName = "scalemap"
    static let profileKey: String? = "scaleMap"
    static func declared(in profile: ProfileSpec) -> Bool { profile.scaleMap != nil }
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        guard let s = graph.profile.scaleMap else { return [] }
        let specs = graph.specs
        let profile = graph.profile
        let names = [specs.scaleMapReference] + specs.scaleMapModels
        let stage = ScaleMapStage(
            spec: s, models: try names.map { try specs.model($0, profile: profile) }, plotted: specs.scaleMapPlotted,
            threads: profile.training.threads)
        graph.add(stage)
        return [kindName]
    }
}
