import Datasets
import Foundation
import Models
import Pipeline
import Reports

/// `figure/longtail`: item popularity rank vs frequency (log–log), block boundaries marked, one panel per dataset.
struct LongTailFigureStage: TypedParameters {
    let datasets: [DatasetLabel]
    let preps: [StageID]
    let blocks: [StageID]
    var id: StageID { StageID("figure/\(Self.kindName)") }
    // 4: a key below the plot puts each sample before its left-aligned text (columns no longer overlap).
    // 5: each panel's title gives the dataset's popularity shape, as Table 1 does.
    var version: Int { 5 }
    struct Parameters: Encodable { var datasets: [DatasetLabel] }
    var typedParameters: Parameters { Parameters(datasets: datasets) }
    var inputs: [StageID] { preps + blocks }
    var outputs: [String] { figureFiles(Self.kindName) }
    var publishes: [String: String] { figurePublishes(Self.kindName) }

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
                    title: Self.title(ds.label, counts: counts), xLabel: "item popularity rank", yLabel: "interactions",
                    xLog: true, yLog: true, series: [Series("items", points: points, style: .lines)],
                    markers: markers, legend: .hidden))
        }
        let figure = Figure(
            title: "Item popularity and CpRec's blocks (dashed: boundary i|i+1)", panels: panels,
            rows: panels.count > 2 ? 2 : 1, panelWidth: 560, panelHeight: 420,
            provenance: RunFacts.provenance(profile: nil))
        try figure.render(to: context.outputDirectory, name: Self.kindName)
    }

    /// The panel title: the dataset and its popularity shape by Table 1's estimators, so a reader can set CpRec's
    /// effect beside how skewed each dataset is.
    static func title(_ label: String, counts: [Int]) -> String {
        String(
            format: "%@: top 10 %% of items hold %.0f %%, Zipf s = %.2f", label,
            100 * DatasetStatistics.headShare(counts: counts, fraction: 0.1),
            DatasetStatistics.zipfExponent(counts: counts))
    }
}

extension LongTailFigureStage: GraphOutput {
    static let kindName = "longtail"
    /// The datasets models are compared on; Table 6's source/target pair (often a small stand-in) is in Table 1 only.
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        let all = graph.allDatasets
        let transfer = graph.profile.transfer?.dataset
        let shown = all.indices.filter { all[$0] != transfer || graph.profile.datasets.contains(all[$0]) }
        let ids = graph.datasetStages
        let stage = LongTailFigureStage(
            datasets: try shown.map { try graph.label(all[$0]) }, preps: shown.map { ids[$0].prep },
            blocks: shown.map { ids[$0].blocks })
        graph.add(stage)
        return [kindName]
    }
}
