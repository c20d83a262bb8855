import Evaluation
import Foundation
import Pipeline
import Reports

/// `table/literature`: our runs on the real benchmarks under full ranking and under the sampled protocol (the target
/// against N items the row does not contain, uniform and popularity-weighted), beside every published number of
/// pipeline/literature.yaml for the same dataset, model and protocol.
struct LiteratureStage: TypedParameters {
    struct Row: Codable, Hashable {
        var dataset: String
        var model: String
        var label: String
        var seeds: [UInt64]
    }
    let datasets: [DatasetLabel]
    let rows: [Row]
    let negatives: Int
    let profile: String
    /// pipeline/literature.yaml (absent: ours alone, every published cell n/a).
    let literature: URL
    /// dataset name → the sequence length t its rows are cut to (for the note: the negatives avoid only what a row
    /// holds).
    let seqLengths: [String: Int]
    var id: StageID { StageID("table/\(Self.kindName)") }
    var version: Int { 1 }
    struct Parameters: Encodable {
        var datasets: [DatasetLabel]
        var rows: [Row]
        var negatives: Int
        var profile: String
        var t: [String: Int]
    }
    var typedParameters: Parameters {
        Parameters(datasets: datasets, rows: rows, negatives: negatives, profile: profile, t: seqLengths)
    }
    var inputs: [StageID] {
        rows.flatMap { EvaluateStage.stageIDs(dataset: $0.dataset, model: $0.model, seeds: $0.seeds) }
    }
    var fileInputs: [URL] { FileManager.default.fileExists(atPath: literature.path) ? [literature] : [] }
    var outputs: [String] { ["literature.md", "literature.tex", "literature.csv"] }
    var publishes: [String: String] { Dictionary(uniqueKeysWithValues: outputs.map { ($0, "paper-tables/\($0)") }) }

    /// The columns: each metric under full ranking, then under each sampled weighting.
    static let metrics: [Metric] = [.hr10, .ndcg10]
    var protocols: [(name: String, header: String)] {
        [("full", "all items")]
            + NegativeSampler.Weighting.allCases.map {
                (
                    SampledMetric.protocolName(negatives: negatives, $0),
                    "1+\(negatives) \($0 == .uniform ? "uniform" : "popular.")"
                )
            }
    }

    func run(_ context: StageContext) throws {
        let published = try LiteratureValues.load(in: literature.deletingLastPathComponent())?.values ?? []
        var columns = [Column.label("Model")]
        for p in protocols {
            for m in Self.metrics { columns.append(Column(m.rawValue, unit: p.header, spread: true)) }
        }
        columns.append(Column("Published, same protocol", alignment: .left))
        var table = Table(
            title: "Our runs beside published numbers on the same data",
            caption:
                "HR@10 and NDCG@10 of every model on the real benchmarks, under full ranking (the target against every item; what the verdicts use) and under the sampled protocol of SASRec and later papers (the target against \(negatives) items the row does not contain, drawn uniformly or in proportion to popularity), each mean ± sd over seeds; the last column gives every published number for the same data, model and protocol.",
            columns: columns, groupTitle: "Dataset", provenance: RunFacts.provenance(profile: profile))
        var sources: [String] = []
        for ds in datasets {
            table.addGroup(ds.label)
            for row in rows where row.dataset == ds.name {
                let r = try EvaluateStage.load(context, dataset: row.dataset, model: row.model, seeds: row.seeds)
                var cells: [Cell] = [.text(row.label + " (\(row.seeds.count) seeds)")]
                for p in protocols {
                    for m in Self.metrics {
                        let key = p.name == "full" ? m.rawValue : "\(p.name) \(m.rawValue)"
                        let xs = r.seedMetrics[key] ?? r.metrics[key].map { [$0] } ?? []
                        var c = Cell.optional(xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count))
                        c.std = xs.count > 1 ? SampleSummary(xs).sd : nil
                        cells.append(c)
                    }
                }
                let mine = published.filter { $0.dataset == row.dataset && $0.model == row.model }
                cells.append(
                    .text(
                        mine.isEmpty
                            ? "none found"
                            : mine.map { v in
                                String(format: "%@ %.4f (%@)", v.metric.rawValue, v.value, v.rankingProtocol.rawValue)
                            }.joined(separator: "; ")))
                for v in mine {
                    let s = "\(v.source.paper), \(v.source.table)"
                    if !sources.contains(s) { sources.append(s) }
                }
                table.addRow(cells)
            }
        }
        let cuts = datasets.compactMap { ds in seqLengths[ds.name].map { "\(ds.label) t = \($0)" } }.joined(
            separator: ", ")
        table.notes =
            [
                "Leave-one-out: per user the last item is the test target, the second-to-last validation; a row holds the user's last t items ending at the target (\(cuts)). Sampled negatives avoid every item of the row, which is the user's whole history when it is at most t items long; a longer history's earlier items can be drawn (SASRec excludes the whole history).",
                "Popularity weighting draws an item in proportion to its interaction count in the prepared data. The same negatives (seed \(EvaluateStage.negativeSeed)) serve every model and training seed.",
                "A tied item counts ahead of the target, in both protocols. Sampled metrics can reorder models (Krichene and Rendle, KDD 2020): the verdicts use full ranking only."
            ]
            + (sources.isEmpty
                ? [
                    "No published number with a stated protocol was found for these models and files (pipeline/literature.yaml)."
                ]
                : [
                    "Published numbers (pipeline/literature.yaml, each with where it was read): "
                        + sources.joined(separator: "; ") + "."
                ])
        try table.write(to: context.outputDirectory, name: "literature")
    }
}

extension LiteratureStage: GraphOutput {
    static let kindName = "literature"
    static let profileKey: String? = "sampledNegatives"
    static func declared(in profile: ProfileSpec) -> Bool { profile.sampledNegatives != nil }
    /// Ours beside the literature's numbers, under their protocols, on the profile's datasets.
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        guard let n = graph.profile.sampledNegatives else { return [] }
        let profile = graph.profile
        let specs = graph.specs
        let catalog = graph.catalog
        var rows: [Row] = []
        for ds in profile.datasets {
            for m in graph.modelNames where profile.runs(m, on: ds) {
                let entry = try specs.model(m, profile: profile.on(ds))
                rows.append(.init(dataset: ds, model: m, label: entry.label, seeds: profile.seeds(for: m)))
            }
        }
        graph.add(
            LiteratureStage(
                datasets: graph.mainLabels, rows: rows, negatives: n, profile: profile.name,
                literature: specs.directory.appendingPathComponent(LiteratureValues.fileName),
                seqLengths: Dictionary(
                    uniqueKeysWithValues: try profile.datasets.map { ($0, try catalog.spec($0).prep.seqLength) })))
        return [kindName]
    }
}
