import Datasets
import Foundation
import Pipeline
import Reports

/// Files a table stage writes and publishes under paper-tables/.
private func tableFiles(_ name: String) -> [String] { ["\(name).md", "\(name).tex", "\(name).csv"] }
private func tablePublishes(_ name: String) -> [String: String] {
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

/// `table/<name>` for Tables 2-5: one row group per dataset, one row per model, ours beside the paper's value.
struct TableStage: Stage {
    let table: TableSpec
    let datasets: [DatasetLabel]
    let models: [ModelEntry]
    let paperValues: URL
    let profile: String
    var id: StageID { StageID("table/\(table.name)") }
    /// Presents training and inference times, which live in the inputs' manifests.
    var readsMeasurements: Bool { true }
    var version: Int { 1 }
    var parameters: JSONValue {
        .object(["title": .string(table.title), "caption": .string(table.caption), "rows": .encoded(table.rows),
                 "columns": .encoded(table.columns), "datasets": .encoded(datasets),
                 "labels": .encoded(models.map(\.label)), "profile": .string(profile)])
    }
    var inputs: [StageID] {
        var ids: [StageID] = []
        for ds in datasets {
            for m in table.rows + ["nextitnet"] where !ids.contains(EvaluateStage.stageID(dataset: ds.name, model: m)) {
                ids.append(EvaluateStage.stageID(dataset: ds.name, model: m))
            }
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
        var out = Table(title: table.title, caption: table.caption, columns: columns, groupTitle: "Dataset",
                        notes: ResultColumns.notes(for: table.columns, selection: nil),
                        provenance: RunFacts.provenance(profile: profile))
        var selections: Set<String> = []
        for ds in datasets {
            out.addGroup(ds.label)
            let baseline = try EvaluateStage.load(context, dataset: ds.name, model: "nextitnet")
            for model in models {
                let r = try EvaluateStage.load(context, dataset: ds.name, model: model.name)
                selections.insert(r.selection)
                var row: [Cell] = [.text(model.label)]
                for c in table.columns {
                    let p = paper.value(table: table.name, paperDataset: ds.paperName, model: model.name, column: c)
                    row.append(ResultColumns.cell(c, record: r, baseline: baseline, paper: p))
                }
                out.addRow(row)
            }
        }
        out.notes = ResultColumns.notes(for: table.columns, selection: selections.sorted().joined(separator: ", "))
        if paper.values.contains(where: { $0.table == table.name }) {
            out.notes.append("Paper values are the paper's numbers on its real dataset of the same name; ours are on the dataset named in the group header.")
        }
        try out.write(to: context.outputDirectory, name: table.name)
    }
}

/// How the fixed column vocabulary of experiments.yaml turns into table columns and cells.
enum ResultColumns {
    static func column(_ name: String, paper: Bool) -> Column {
        switch name {
        case "Params": return Column("Params", format: .count, paper: paper)
        case "Params(io)": return Column("Params", unit: "in+out", format: .count, paper: paper)
        case "Params(mid)": return Column("Params", unit: "middle", format: .count, paper: paper)
        case "TT": return Column("TT", unit: "min", format: .decimal(2), paper: paper)
        case "Speedup": return Column("Speedup", format: .times(2), paper: paper)
        case "Speedup(b1)": return Column("Speedup", unit: "batch 1", format: .times(2), paper: paper)
        default: return Column(name, format: .decimal(4), paper: paper)
        }
    }

    static func cell(_ name: String, record r: EvaluationRecord, baseline: EvaluationRecord, paper: Double?) -> Cell {
        switch name {
        case "Params": return .number(Double(r.params.total), paper: paper)
        case "Params(io)": return .number(Double(r.params.input + r.params.output), paper: paper)
        case "Params(mid)": return .number(Double(r.params.middle), paper: paper)
        case "TT": return .number(r.secondsToBest / 60, paper: paper)
        case "Speedup":
            // Timed against NextItNet inside the model's evaluate stage; MostPop has nothing to compare.
            return .optional(r.speedup, paper: paper)
        case "Speedup(b1)": return .optional(r.speedupBatch1, paper: paper)
        default: return .optional(r.metrics[name], paper: paper)
        }
    }

    static func notes(for columns: [String], selection: String?) -> [String] {
        var notes = ["Accuracy: last item of each test sequence ranked against all items (padding excluded)."]
        if columns.contains("TT") { notes.append("TT: wall time of training up to the selected epoch, minutes.") }
        if columns.contains("Speedup") {
            notes.append("Speedup: NextItNet's time to generate the top-5 list of every test sequence divided by the model's (fast top-N path where it has one), same batch and threads.")
        }
        if columns.contains("Speedup(b1)") {
            notes.append("Speedup (batch 1): the same at test batch 1, the paper's latency setting: median time per sequence over up to \(EvaluateStage.batch1Rows) test sequences (or \(Int(EvaluateStage.batch1Budget)) s), NextItNet and the model called alternately. Block-wise softmax models use the exact pruned top-N (equal to full scoring).")
        }
        if let selection { notes.append("Epoch selection: \(selection).") }
        return notes
    }
}

/// `table/table1`: dataset statistics (source / target for transfer datasets).
struct Table1Stage: Stage {
    let datasets: [DatasetLabel]
    let preps: [StageID]
    let profile: String
    var id: StageID { "table/table1" }
    var version: Int { 1 }
    var parameters: JSONValue { .object(["datasets": .encoded(datasets), "profile": .string(profile)]) }
    var inputs: [StageID] { preps }
    var outputs: [String] { tableFiles("table1") }
    var publishes: [String: String] { tablePublishes("table1") }

    func run(_ context: StageContext) throws {
        var table = Table(title: "Table 1: statistics of the evaluated datasets",
                          caption: "'M' and 'K' are million and thousand; t is the length of the interaction sequences. For source/target datasets the left and right values divided by '/' are the source and the target.",
                          columns: [.label("Dataset"), Column("#actions", alignment: .right), Column("#sequences", alignment: .right),
                                    Column("#items", alignment: .right), Column("t", alignment: .right)],
                          provenance: RunFacts.provenance(profile: profile))
        for (ds, prep) in zip(datasets, preps) {
            let stats = try JSONFiles.read(PrepStats.self, from: try context.inputDirectory(prep).appendingPathComponent(PreparedFiles.stats))
            let row = DatasetStatistics.table1Row(stats).formatted
            table.addRow([.text(ds.label), .text(row.actions), .text(row.sequences), .text(row.items), .text(row.t)])
        }
        table.notes = ["Paper values: not retrievable (the paper's Table 1 could not be recovered); ours are after preprocessing."]
        try table.write(to: context.outputDirectory, name: "table1")
    }
}
