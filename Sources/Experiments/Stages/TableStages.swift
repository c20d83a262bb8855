import Datasets
import Foundation
import Models
import Pipeline
import Reports

/// Files a table stage writes and publishes under paper-tables/.
func tableFiles(_ name: String) -> [String] { ["\(name).md", "\(name).tex", "\(name).csv"] }
func tablePublishes(_ name: String) -> [String: String] {
    Dictionary(uniqueKeysWithValues: tableFiles(name).map { ($0, "paper-tables/\($0)") })
}

/// The printable facts of a dataset a table needs (part of the table stage's key).
struct DatasetLabel: Codable, Hashable {
    var name: String
    var label: String
    var paperName: String?
    init(_ name: String, _ entry: DatasetEntry) {
        self.name = name
        label = entry.label
        paperName = entry.paperName
    }
}

/// `table/<name>` for the tables of experiments.yaml (Tables 2-5 and 7): one row group per dataset, one row per model
/// (mean ± sd over seeds), ours beside
/// the paper's value; trained models that do not beat MostPop are flagged, synthetic datasets get their oracle.
struct TableStage: TypedParameters {
    let table: TableSpec
    /// The learning guard's model (`roles.popularity`).
    let popularity: String
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let paperValues: URL
    let profile: String
    let seeds: [UInt64]
    /// Models that run on more seeds than `seeds` (profiles.yaml `claimSeeds`).
    var seedsByModel: [String: [UInt64]] = [:]
    /// dataset name → `oracle/<dataset>` (synthetic datasets only).
    let oracles: [String: StageID]
    /// dataset name → the only models run on it (profiles.yaml `perDataset`); other rows are left out there.
    var only: [String: [String]] = [:]
    var id: StageID { StageID("table/\(table.name)") }

    private func runs(_ model: String, on dataset: String) -> Bool { only[dataset].map { $0.contains(model) } ?? true }
    /// Presents training and inference times, which live in the inputs' manifests.
    var readsMeasurements: Bool { true }
    // 4: the did-not-learn note says what the claims do with such a row.
    var version: Int { 4 }
    struct Parameters: Encodable {
        var title: String
        var caption: String
        var rows: [String]
        var columns: [TableColumn]
        var datasets: [DatasetLabel]
        var labels: [String]
        var profile: String
        var seeds: [UInt64]
        var reference: String
        var referenceLabel: String
        // Only when not empty, so the keys of profiles without them are what they were.
        var only: [String: [String]]?
        var seedsByModel: [String: [UInt64]]?
    }
    var typedParameters: Parameters {
        let shown = only.filter { entry in datasets.contains { $0.name == entry.key } }
        return Parameters(
            title: table.title, caption: table.caption, rows: table.rows, columns: table.columns, datasets: datasets,
            labels: models.map(\.label), profile: profile, seeds: seeds, reference: table.reference,
            referenceLabel: referenceLabel, only: shown.isEmpty ? nil : shown,
            seedsByModel: seedsByModel.isEmpty ? nil : seedsByModel)
    }
    func seeds(for model: String) -> [UInt64] { seedsByModel[model] ?? seeds }
    /// How the notes name the speedup reference.
    let referenceLabel: String
    /// Models every table reads besides its rows: the speedup reference and the learning guard.
    var references: [String] { [table.reference, popularity] }
    var inputs: [StageID] {
        var ids: [StageID] = []
        for ds in datasets {
            for m in table.rows + references where runs(m, on: ds.name) {
                for id in EvaluateStage.stageIDs(dataset: ds.name, model: m, seeds: seeds(for: m))
                where !ids.contains(id) { ids.append(id) }
            }
            if let o = oracles[ds.name] { ids.append(o) }
        }
        return ids
    }
    var fileInputs: [URL] { [paperValues] }
    var outputs: [String] { tableFiles(table.name) }
    var publishes: [String: String] { tablePublishes(table.name) }

    func run(_ context: StageContext) throws {
        let paper = try PaperValues.load(paperValues)
        var columns = [Column.label("Model")]
        for c in table.columns {
            let hasPaper = paper.values.contains { $0.table == table.name && $0.column == c }
            columns.append(ResultColumns.column(c, paper: hasPaper))
        }
        var out = Table(
            title: table.title, caption: table.caption, columns: columns, groupTitle: "Dataset",
            provenance: RunFacts.provenance(profile: profile))
        var selections: Set<String> = []
        var flagged: [String] = [], capped: [String] = []
        var oracleNotes: [String] = []
        for ds in datasets {
            out.addGroup(ds.label)
            let mostPop = try EvaluateStage.load(
                context, dataset: ds.name, model: popularity, seeds: seeds(for: popularity))
            var best = 0.0
            for model in models where runs(model.name, on: ds.name) {
                let r = try EvaluateStage.load(
                    context, dataset: ds.name, model: model.name, seeds: seeds(for: model.name))
                selections.insert(r.selection)
                let learned = r.learned(mostPop: mostPop)
                if !learned { flagged.append("\(ds.label) \(model.label)") }
                if learned, model.config.kind != .mostpop { best = max(best, r.metric(.mrr5) ?? 0) }
                let stillImproving = r.seedsCappedWhileImproving  // 0 for MostPop: it records no epochs
                if stillImproving > 0 {
                    capped.append("\(ds.label) \(model.label) (\(stillImproving) of \(max(r.seeds.count, 1)))")
                }
                var row: [Cell] = [.text(model.label + (learned ? "" : " †") + (stillImproving > 0 ? " ‡" : ""))]
                for c in table.columns {
                    let p = paper.value(table: table.name, paperDataset: ds.paperName, model: model.name, column: c)
                    row.append(ResultColumns.cell(c, record: r, paper: p))
                }
                out.addRow(row)
            }
            if let o = oracles[ds.name] {
                let oracle = try OracleStage.load(context, o)
                oracleNotes.append(
                    String(
                        format:
                            "%@: oracle MRR@5 %.4f, HR@5 %.4f; the best model here reaches %.0f %% of the oracle's MRR@5",
                        ds.label, oracle.mrr5, oracle.hr5, 100 * best / max(oracle.mrr5, 1e-12)))
            }
        }
        out.notes = ResultColumns.notes(
            for: table.columns, selection: selections.sorted().joined(separator: ", "),
            seeds: seeds.count, reference: referenceLabel)
        let more = models.filter { seeds(for: $0.name).count != seeds.count }
        if let n = more.first.map({ seeds(for: $0.name).count }) {
            out.notes.append(
                "Rows with \(n) seeds (the claims' pairs, profiles.yaml claimSeeds): \(more.map(\.label).joined(separator: ", "))."
            )
        }
        if !flagged.isEmpty {
            out.notes.append(
                "† did not learn (\(Evidence.learnRule)): \(flagged.joined(separator: ", ")). In a claim, a pair whose compared model did not learn fails (it counts against the claim); a pair whose reference did not learn decides nothing."
            )
        }
        if !capped.isEmpty {
            out.notes.append(
                "‡ still improving at the epoch cap: the last epoch was the best one in some seeds (seeds shown), so these rows may understate the model: \(capped.joined(separator: ", "))."
            )
        }
        if !oracleNotes.isEmpty {
            out.notes.append(
                "Oracle = expected metrics of the Bayes-optimal predictor under the synthetic generator's own law, conditioning on \(SyntheticOracle.conditionsOn). "
                    + oracleNotes.joined(separator: "; ") + ".")
        }
        if paper.values.contains(where: { $0.table == table.name }) {
            out.notes.append(
                "Paper values are the paper's numbers on its real dataset of the same name; ours are on the dataset named in the group header."
            )
        }
        try out.write(to: context.outputDirectory, name: table.name)
    }
}

/// How the column vocabulary of experiments.yaml turns into table columns and cells.
enum ResultColumns {
    static func column(_ name: TableColumn, paper: Bool) -> Column {
        switch name {
        case .params: return Column("Params", format: .count, paper: paper)
        case .paramsIO: return Column("Params", unit: "in+out", format: .count, paper: paper)
        case .paramsMiddle: return Column("Params", unit: "middle", format: .count, paper: paper)
        case .trainingTime: return Column("TT", unit: "min", format: .decimal(2), paper: paper, spread: true)
        case .speedup: return Column("Speedup", format: .times(2), paper: paper, spread: true)
        case .speedupBatch1: return Column("Speedup", unit: "batch 1", format: .times(2), paper: paper, spread: true)
        case .metric(let m): return Column(m.rawValue, format: .decimal(4), paper: paper, spread: true)
        }
    }

    static func cell(_ name: TableColumn, record r: EvaluationRecord, paper: Double?) -> Cell {
        func spread(_ xs: [Double]) -> Double? { xs.count > 1 ? SampleSummary(xs).sd : nil }
        switch name {
        case .params: return .number(Double(r.params.total), paper: paper)
        case .paramsIO: return .number(Double(r.params.input + r.params.output), paper: paper)
        case .paramsMiddle: return .number(Double(r.params.middle), paper: paper)
        case .trainingTime:
            return .number(r.secondsToBest / 60, paper: paper, std: spread(r.seedSecondsToBest.map { $0 / 60 }))
        case .speedup:
            // Timed against the reference inside the model's evaluate stage; MostPop has nothing to compare.
            var c = Cell.optional(r.speedup, paper: paper)
            c.std = spread(r.seedSpeedups)
            return c
        case .speedupBatch1:
            var c = Cell.optional(r.speedupBatch1, paper: paper)
            c.std = spread(r.seedSpeedupsBatch1)
            return c
        case .metric(let m):
            var c = Cell.optional(r.metric(m), paper: paper)
            c.std = spread(r.values(m))
            return c
        }
    }

    /// "3 seeds", or "3 seeds (5 for NextItNet, CpRec-Cl)" when some rows have more (profiles.yaml claimSeeds);
    /// `default` is the count when there are no rows.
    static func seedPhrase(_ rows: [(label: String, seeds: Int)], default fallback: Int) -> String {
        func seeds(_ n: Int) -> String { "\(n) seed\(n == 1 ? "" : "s")" }
        var counts: [Int: Int] = [:]
        for r in rows { counts[r.seeds, default: 0] += 1 }
        // The most common count is the phrase; ties go to the smaller count (the profile's seeds).
        guard let common = counts.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) })?.key else {
            return seeds(fallback)
        }
        var others: [Int: [String]] = [:]
        for r in rows where r.seeds != common && !(others[r.seeds]?.contains(r.label) ?? false) {
            others[r.seeds, default: []].append(r.label)
        }
        guard !others.isEmpty else { return seeds(common) }
        let rest = others.keys.sorted().map { "\($0) for \(others[$0]!.joined(separator: ", "))" }
        return seeds(common) + " (" + rest.joined(separator: "; ") + ")"
    }

    /// `reference`: the label of the model Speedup is timed against.
    static func notes(for columns: [TableColumn], selection: String?, seeds: Int, reference: String) -> [String] {
        var notes = [
            "Accuracy: last item of each test sequence ranked against all items (padding excluded); a tied item counts ahead of the target (rank = 1 + the number of other items scoring ≥ the target), so a constant scorer gets 0, not MostPop's score.",
            "Values are mean ± standard deviation over \(seeds) training seed\(seeds == 1 ? "" : "s") (a seed moves initialisation and batch order, not the data split); every seed's value is in runs.csv."
        ]
        if columns.contains(.trainingTime) {
            notes.append("TT: wall time of training up to the selected epoch, minutes.")
        }
        if columns.contains(.speedup) {
            notes.append(
                "Speedup: \(reference)'s time to generate the top-5 list of every test sequence divided by the model's, each through its own top-N path (a flat softmax ranks its logits, the tree softmax prunes exactly), timed in alternation, same batch and threads."
            )
        }
        if columns.contains(.speedupBatch1) {
            notes.append(
                "Speedup (batch 1): the same at test batch 1, the paper's latency setting: median time per sequence over up to \(EvaluateStage.batch1Rows) test sequences (or \(Int(EvaluateStage.batch1Budget)) s), \(reference) and the model called alternately. Block-wise softmax models use the exact pruned top-N (equal to full scoring)."
            )
        }
        if let selection { notes.append("Epoch selection: \(selection).") }
        return notes
    }
}

/// `table/table1`: dataset statistics (source / target for transfer datasets) and, for synthetic data, the
/// Bayes-optimal oracle's expected metrics on the test split.
struct Table1Stage: TypedParameters {
    let datasets: [DatasetLabel]
    let preps: [StageID]
    let profile: String
    /// dataset name → `oracle/<dataset>` (synthetic datasets only).
    var oracles: [String: StageID] = [:]
    var id: StageID { StageID("table/\(Self.kindName)") }
    // 4: popularity shape (top-10 % share, Zipf exponent).
    var version: Int { 4 }
    struct Parameters: Encodable {
        var datasets: [DatasetLabel]
        var profile: String
    }
    var typedParameters: Parameters { Parameters(datasets: datasets, profile: profile) }
    var inputs: [StageID] { preps + datasets.compactMap { oracles[$0.name] } }
    var outputs: [String] { tableFiles(Self.kindName) }
    var publishes: [String: String] { tablePublishes(Self.kindName) }

    func run(_ context: StageContext) throws {
        var table = Table(
            title: "Table 1: statistics of the evaluated datasets",
            caption:
                "'M' and 'K' are million and thousand; t is the length of the interaction sequences. For source/target datasets the left and right values divided by '/' are the source and the target. Oracle: expected MRR@5 / HR@5 of the Bayes-optimal predictor on the test split (synthetic data only).",
            columns: [
                .label("Dataset"), Column("#actions", alignment: .right), Column("#sequences", alignment: .right),
                Column("#items", alignment: .right), Column("t", alignment: .right),
                Column("Top 10 % share"), Column("Zipf s"),
                Column("Oracle MRR@5"), Column("Oracle HR@5")
            ],
            provenance: RunFacts.provenance(profile: profile))
        for (ds, prep) in zip(datasets, preps) {
            let stats = try JSONFiles.read(
                PrepStats.self, from: try context.inputDirectory(prep).appendingPathComponent(PreparedFiles.stats))
            let row = DatasetStatistics.table1Row(stats).formatted
            let oracle = try oracles[ds.name].map { try OracleStage.load(context, $0) }
            let counts = try PreparedDataset.loadItemCounts(from: try context.inputDirectory(prep))
            table.addRow([
                .text(ds.label), .text(row.actions), .text(row.sequences), .text(row.items), .text(row.t),
                .text(String(format: "%.1f %%", 100 * DatasetStatistics.headShare(counts: counts, fraction: 0.1))),
                .text(String(format: "%.2f", DatasetStatistics.zipfExponent(counts: counts))),
                .optional(oracle?.mrr5), .optional(oracle?.hr5)
            ])
        }
        table.notes = [
            "Paper values: not retrievable (the paper's Table 1 could not be recovered); ours are after preprocessing.",
            "Popularity shape: share of interactions held by the most frequent 10 % of items, and the exponent s of a Zipf law f(r) ∝ r^-s fitted by least squares on log count against log rank (items with at least one interaction).",
            "Oracle: ranks items by the generator's own next-item law given \(SyntheticOracle.conditionsOn); a near-ceiling, not a strict bound: its first-item likelihood is a stand-in and minItemCount filtering hides some true previous items, so a model can exceed it slightly. n/a for data without a known law (and for transfer datasets, whose target side it does not cover)."
        ]
        try table.write(to: context.outputDirectory, name: "table1")
    }
}

extension TableStage: GraphOutput {
    /// The tables of experiments.yaml (Tables 2-5 and 7), each over the profile's datasets that take part in it; a
    /// table no dataset of the profile takes part in is not written (it would be a header without rows).
    static let kindName = "tables"
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        let specs = graph.specs
        let profile = graph.profile
        let measured = specs.tables.filter { !profile.datasets(inTable: $0.name).isEmpty }
        for table in measured {
            let stage = TableStage(
                table: table, popularity: specs.roles.popularity,
                datasets: try profile.datasets(inTable: table.name).map(graph.label),
                models: try table.rows.map { try specs.model($0, profile: profile) },
                paperValues: graph.paperValues, profile: profile.name, seeds: profile.seeds,
                seedsByModel: profile.seedsByModel,
                oracles: graph.oracles, only: graph.restricted,
                referenceLabel: try specs.model(table.reference, profile: profile).label)
            graph.add(stage)
        }
        return measured.map(\.name)
    }
}

extension Table1Stage: GraphOutput {
    /// Every dataset the profile touches, with the oracle of each synthetic one (not of a source/target pair).
    static let kindName = "table1"
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        let catalog = graph.catalog
        let withOracle = graph.allDatasets.filter { (try? catalog.spec($0))?.format.kind != .coldrec }
        let oracles = try graph.oracleStages(withOracle)
        let stage = Table1Stage(
            datasets: try graph.allDatasets.map(graph.label), preps: graph.datasetStages.map(\.prep),
            profile: graph.profile.name, oracles: oracles)
        graph.add(stage)
        return [kindName]
    }
}
