import Foundation
import Pipeline
import Models
import Yams

/// One entry of pipeline/models.yaml: a printable label and a full model configuration.
public struct ModelEntry: Sendable {
    public var name: String
    public var label: String
    public var config: ModelConfig
    /// The entry's own training settings, laid over the profile's `training:` (pipeline/models.yaml `training:`).
    public var training = TrainingOverrides()

    /// The profile's training settings with this model's overrides applied, for one seed.
    public func trainingSpec(_ profile: TrainingSpec, seed: UInt64) -> TrainingSpec {
        var t = training.apply(to: profile)
        t.seed = seed
        return t
    }
}

/// Per-model training settings (models.yaml); nil keeps the profile's value.
public struct TrainingOverrides: Sendable, Hashable {
    public static let keys = ["learningRate", "minEpochs", "patience", "maxEpochs", "batchSize"]
    public var learningRate: Double?
    public var minEpochs: Int?
    public var patience: Int?
    public var maxEpochs: Int?
    public var batchSize: Int?

    func apply(to t: TrainingSpec) -> TrainingSpec {
        var o = t
        if let v = learningRate { o.learningRate = v }
        if let v = minEpochs { o.minEpochs = v }
        if let v = patience { o.patience = v }
        if let v = maxEpochs { o.maxEpochs = v }
        if let v = batchSize { o.batchSize = v }
        o.minEpochs = min(o.minEpochs, o.maxEpochs)
        return o
    }

    static func read(_ node: SpecNode) throws -> TrainingOverrides {
        try node.checkKeys(keys)
        var o = TrainingOverrides()
        o.learningRate = try node["learningRate"]?.double()
        o.minEpochs = try node["minEpochs"]?.int()
        o.patience = try node["patience"]?.int()
        o.maxEpochs = try node["maxEpochs"]?.int()
        o.batchSize = try node["batchSize"]?.int()
        if let v = o.learningRate, !(v > 0 && v.isFinite) { throw node.fail("learningRate must be a positive number") }
        for (k, v) in [("minEpochs", o.minEpochs), ("patience", o.patience), ("maxEpochs", o.maxEpochs),
                       ("batchSize", o.batchSize)] {
            if let v, v < 1 { throw node.fail("\(k) must be ≥ 1 (got \(v))") }
        }
        return o
    }
}

/// One table of pipeline/experiments.yaml.
public struct TableSpec: Sendable {
    public static let columnVocabulary = ["MRR@5", "HR@5", "NDCG@5", "MRR@20", "HR@20", "NDCG@20",
                                          "Params", "Params(io)", "Params(mid)", "TT", "Speedup", "Speedup(b1)"]
    public var name: String
    public var title: String
    public var caption: String
    public var rows: [String]
    public var columns: [String]
    /// The model the Speedup columns divide by (`reference:` in experiments.yaml; NextItNet unless declared).
    /// A model's evaluate stage times it against its tables' reference, so tables sharing a row must agree.
    public var reference: String = TableSpec.defaultReference
    public static let defaultReference = "nextitnet"
}

/// Training settings shared by every train stage of a profile.
public struct TrainingSpec: Codable, Hashable, Sendable {
    public var batchSize: Int
    public var maxEpochs: Int
    public var patience: Int
    /// Early stopping never ends a run before this many epochs (a flat start is not convergence).
    public var minEpochs: Int
    public var learningRate: Double
    public var l2: Double
    /// `validation` (select the epoch on a validation split) or `paper` (on the test set, as the authors' code).
    public var selection: String
    public var seed: UInt64
    /// BLAS and elementwise threads of each train/evaluate/finetune stage. Part of the key: float sums in a
    /// different order give different (equally valid) numbers, and a result must not depend on `-j`.
    public var threads: Int
}

/// The scale map's grid (`figure/scalemap`): vocabularies × widths, each (cell, batch) timed for `budget` seconds.
public struct ScaleMapSpec: Codable, Hashable, Sendable {
    public var vocabularies: [Int]
    public var dims: [Int]
    public var budget: Double
}

/// Figure 1's sweep: NextItNet over embedding sizes and depths on one dataset.
public struct Figure1Spec: Sendable {
    public var dataset: String
    public var dims: [Int]
    public var depths: [Int]
}

/// The transfer-learning experiment (Table 6).
public struct TransferSpec: Sendable {
    public var dataset: String
    public var models: [String]
    public var epochs: Int
    public var negatives: Int
    public var freezeBackbone: Bool
}

/// A profile: which datasets and settings `pipeline all --profile NAME` uses.
public struct ProfileSpec: Sendable {
    public var name: String
    public var summary: String
    public var datasets: [String]
    public var training: TrainingSpec
    public var modelDefaults: [String: SpecScalar]
    public var figure1: Figure1Spec?
    public var transfer: TransferSpec?
    public var inferenceBatch: Int
    /// Training seeds: every model of Tables 2-6 and Figure 1 is trained once per seed (`seeds: N` in the
    /// profile = training.seed, training.seed + 1, …). A seed moves initialisation and batch order, never the
    /// data split (prep has its own seed).
    public var seeds: [UInt64]
    /// Optional: the profile builds the scale map only when it declares one.
    public var scaleMap: ScaleMapSpec? = nil
    /// Per-dataset plans (`perDataset:`): which models and tables a dataset takes part in, and its model defaults.
    public var perDataset: [String: DatasetPlan] = [:]
    /// Other profiles whose committed results (`results/<profile>/`) this profile's report shows in their own section.
    public var companions: [String] = []

    /// The profile as one dataset sees it: its own `model:` defaults laid over the profile's.
    public func on(_ dataset: String) -> ProfileSpec {
        guard let plan = perDataset[dataset], !plan.model.isEmpty else { return self }
        var p = self
        p.modelDefaults.merge(plan.model) { _, own in own }
        return p
    }

    /// Whether `model` runs on `dataset` (every model runs unless the dataset's plan lists its models).
    public func runs(_ model: String, on dataset: String) -> Bool {
        perDataset[dataset]?.models.map { $0.contains(model) } ?? true
    }

    /// The profile's datasets that `table` shows.
    public func datasets(inTable table: String) -> [String] {
        datasets.filter { perDataset[$0]?.tables.map { $0.contains(table) } ?? true }
    }

    /// Datasets every model runs on: the figures that compare many models use only these.
    public var unrestrictedDatasets: [String] { datasets.filter { perDataset[$0]?.models == nil } }
}

/// One dataset's place in a profile (profiles.yaml `perDataset.<dataset>`): a large dataset can run a subset of the
/// models, appear in some tables only, and take its own model defaults (e.g. block widths).
public struct DatasetPlan: Sendable, Equatable {
    /// Only these models are trained on the dataset (nil = every model the tables and figures name).
    public var models: [String]?
    /// Only these tables show the dataset (nil = every table).
    public var tables: [String]?
    /// Model defaults for this dataset, over the profile's `model:` and under each entry's own keys.
    public var model: [String: SpecScalar] = [:]
}

/// A scalar or list value from a spec, kept to layer profile defaults under a model entry.
public enum SpecScalar: Sendable, Equatable {
    case int(Int), double(Double), string(String), bool(Bool), ints([Int])
}

/// Everything under pipeline/: models, tables, figures, profiles and dataset nodes, validated on load.
public struct SpecBundle {
    public var directory: URL
    public var models: [String: ModelEntry]
    public var modelOrder: [String]
    public var tables: [TableSpec]
    public var paretoModels: [String]
    public var convergenceModels: [String]
    public var figure1Model: String
    public var profiles: [String: ProfileSpec]
    public var profileOrder: [String]

    /// Loads and cross-checks every spec file; every error names file, line and key.
    public static func load(_ directory: URL) throws -> SpecBundle {
        let modelsNode = try SpecNode.load(directory.appendingPathComponent("models.yaml"))
        let experimentsNode = try SpecNode.load(directory.appendingPathComponent("experiments.yaml"))
        let profilesNode = try SpecNode.load(directory.appendingPathComponent("profiles.yaml"))

        try modelsNode.checkKeys(["models"])
        var models: [String: SpecNode] = [:]
        var modelOrder: [String] = []
        for (name, node) in try modelsNode.required("models").idEntries() {
            try node.checkKeys(ModelConfigReader.keys + ["label", "training"])
            models[name] = node
            modelOrder.append(name)
        }

        try experimentsNode.checkKeys(["tables", "figures"])
        var tables: [TableSpec] = []
        for (name, node) in try experimentsNode.required("tables").entries() {
            try node.checkKeys(["title", "caption", "rows", "columns", "reference"])
            let rows = try node.required("rows").strings()
            let reference = try node["reference"]?.string() ?? TableSpec.defaultReference
            if models[reference] == nil {
                throw (node["reference"] ?? node).fail("unknown reference model '\(reference)'; models are declared in models.yaml")
            }
            for (i, row) in rows.enumerated() {
                if let other = tables.first(where: { $0.rows.contains(row) && $0.reference != reference }) {
                    throw SpecError(file: node.file, line: node.line, path: "\(node.path).rows[\(i)]",
                                    message: "'\(row)' is also in \(other.name), whose speedup reference is '\(other.reference)', not '\(reference)'; a model is timed against one reference")
                }
            }
            for (i, row) in rows.enumerated() where models[row] == nil {
                throw SpecError(file: node.file, line: node.line, path: "\(node.path).rows[\(i)]",
                                message: "unknown model '\(row)'; models are declared in models.yaml")
            }
            let columnsNode = try node.required("columns")
            let columns = try columnsNode.list().map { try $0.oneOf(TableSpec.columnVocabulary) }
            tables.append(TableSpec(name: name, title: try node.required("title").string(),
                                    caption: try node.required("caption").string(), rows: rows, columns: columns,
                                    reference: reference))
        }
        let figures = try experimentsNode.required("figures")
        try figures.checkKeys(["fig1", "pareto", "convergence"])
        func modelList(_ node: SpecNode) throws -> [String] {
            let names = try node.strings()
            for (i, n) in names.enumerated() where models[n] == nil {
                throw SpecError(file: node.file, line: node.line, path: "\(node.path)[\(i)]", message: "unknown model '\(n)'")
            }
            return names
        }
        let fig1Model = try figures.required("fig1").required("model").string()
        guard models[fig1Model] != nil else { throw figures.fail("fig1.model: unknown model '\(fig1Model)'") }

        var profiles: [String: ProfileSpec] = [:]
        var profileOrder: [String] = []
        try profilesNode.checkKeys(["profiles"])
        var profileNodes: [String: SpecNode] = [:]
        for (name, node) in try profilesNode.required("profiles").idEntries() {
            profiles[name] = try ProfileReader.read(name: name, node: node)
            profileOrder.append(name)
            profileNodes[name] = node
            // Checked here so the error names the profile's line, not the model catalogue.
            if let list = node["transfer"]?["models"] {
                for item in try list.list() where models[try item.string()] == nil {
                    throw item.fail("unknown model '\(try item.string())'; models are declared in models.yaml")
                }
            }
            for (_, plan) in try node["perDataset"]?.entries() ?? [] {
                for item in try plan["models"]?.list() ?? [] where models[try item.string()] == nil {
                    throw item.fail("unknown model '\(try item.string())'; models are declared in models.yaml")
                }
                for item in try plan["tables"]?.list() ?? [] where !tables.contains(where: { $0.name == (try? item.string()) }) {
                    throw item.fail("unknown table '\(try item.string())'; tables: \(tables.map(\.name).joined(separator: ", "))")
                }
            }
        }

        for (name, node) in profileNodes {
            for item in try node["companions"]?.list() ?? [] {
                let other = try item.string()
                if profiles[other] != nil && other != name { continue }
                throw item.fail("companions: '\(other)' must name another profile (\(profileOrder.joined(separator: ", ")))")
            }
        }

        // Resolve every model against the first profile's defaults once, so a bad model entry fails at load.
        var resolved: [String: ModelEntry] = [:]
        for name in modelOrder {
            let node = models[name]!
            let label = try node["label"]?.label() ?? name
            resolved[name] = ModelEntry(name: name, label: label,
                                        config: try ModelConfigReader.read(node, defaults: [:]),
                                        training: try node["training"].map(TrainingOverrides.read) ?? TrainingOverrides())
        }
        _ = resolved
        var bundle = SpecBundle(directory: directory, models: resolved, modelOrder: modelOrder, tables: tables,
                                paretoModels: try modelList(figures.required("pareto").required("models")),
                                convergenceModels: try modelList(figures.required("convergence").required("models")),
                                figure1Model: fig1Model, profiles: profiles, profileOrder: profileOrder,
                                modelNodes: models)
        bundle.profileNodes = profileNodes
        return bundle
    }

    /// Raw profile nodes, kept so dataset references can be checked (against datasets.yaml) at their own line.
    var profileNodes: [String: SpecNode] = [:]

    /// Every dataset a profile names must be declared; the error points at the profile, where the typo is.
    func checkDatasets(in catalog: DatasetCatalog) throws {
        func check(_ node: SpecNode) throws {
            let name = try node.string()
            guard catalog.entries[name] == nil else { return }
            let hint = catalog.order.min { editDistance($0, name) < editDistance($1, name) }
                .map { " (did you mean '\($0)'?)" } ?? ""
            throw node.fail("unknown dataset '\(name)'\(hint); datasets are declared in datasets.yaml")
        }
        for name in profileOrder {
            guard let node = profileNodes[name] else { continue }
            for item in try node["datasets"]?.list() ?? [] { try check(item) }
            if let d = node["figure1"]?["dataset"] { try check(d) }
            if let d = node["transfer"]?["dataset"] { try check(d) }
        }
    }

    /// Raw model nodes, kept so each profile's defaults can be layered under them.
    var modelNodes: [String: SpecNode] = [:]

    init(directory: URL, models: [String: ModelEntry], modelOrder: [String], tables: [TableSpec],
         paretoModels: [String], convergenceModels: [String], figure1Model: String,
         profiles: [String: ProfileSpec], profileOrder: [String], modelNodes: [String: SpecNode]) {
        self.directory = directory
        self.models = models
        self.modelOrder = modelOrder
        self.tables = tables
        self.paretoModels = paretoModels
        self.convergenceModels = convergenceModels
        self.figure1Model = figure1Model
        self.profiles = profiles
        self.profileOrder = profileOrder
        self.modelNodes = modelNodes
    }

    /// The model entry with the profile's defaults applied under the entry's own keys.
    public func model(_ name: String, profile: ProfileSpec) throws -> ModelEntry {
        guard let node = modelNodes[name], let entry = models[name] else {
            throw SpecError(file: "models.yaml", line: nil, path: "models", message: "unknown model '\(name)'")
        }
        var e = entry
        e.config = try ModelConfigReader.read(node, defaults: profile.modelDefaults)
        return e
    }

    public func profile(_ name: String) throws -> ProfileSpec {
        guard let p = profiles[name] else {
            throw SpecError(file: "profiles.yaml", line: nil, path: "profiles",
                            message: "unknown profile '\(name)'; profiles: \(profileOrder.joined(separator: ", "))")
        }
        return p
    }
}

/// Reads a ModelConfig from a spec mapping, key by key, so typos and bad values name their line.
enum ModelConfigReader {
    static let keys = ["kind", "dim", "dilations", "kernel", "input", "output", "sharing", "blocks", "blockFactor",
                       "blockWidths", "lowRank", "gruLayers", "caserWindow", "caserHorizontal", "caserVertical",
                       "layerNormEps", "maskPadding", "heads", "depth", "positions", "dropout"]
    /// Keys only SASRec reads: a profile default of one applies to SASRec entries only.
    static let sasrecKeys: Set<String> = ["heads", "depth", "positions", "dropout"]

    static func read(_ node: SpecNode, defaults: [String: SpecScalar]) throws -> ModelConfig {
        let kindName = try node.required("kind").oneOf(["nextitnet", "gru4rec", "caser", "mostpop", "sasrec"])
        var c = ModelConfig(kind: ModelConfig.Kind(rawValue: kindName)!)
        func apply(_ key: String, _ value: SpecScalar, _ at: SpecNode?) throws {
            func bad(_ expected: String) -> SpecError {
                at?.fail("expected \(expected)") ?? SpecError(file: "profiles.yaml", line: nil, path: "model.\(key)", message: "expected \(expected)")
            }
            func int() throws -> Int { if case .int(let v) = value { return v }; throw bad("an integer") }
            func ints() throws -> [Int] { if case .ints(let v) = value { return v }; throw bad("a list of integers") }
            func str() throws -> String { if case .string(let v) = value { return v }; throw bad("a string") }
            func factorization() throws -> ModelConfig.Factorization {
                guard let f = ModelConfig.Factorization(rawValue: try str()) else { throw bad("full | blockwise | lowrank") }
                return f
            }
            switch key {
            case "kind", "label", "training": break
            case "dim": c.dim = try int()
            case "dilations": c.dilations = try ints()
            case "kernel": c.kernel = try int()
            case "input": c.input = try factorization()
            case "output": c.output = try factorization()
            case "sharing":
                guard let s = ModelConfig.Sharing(rawValue: try str()) else {
                    throw bad("none | cross-layer | cross-block | adjacent-layer | adjacent-block")
                }
                c.sharing = s
            case "blocks": c.blocks = try ints()
            case "blockFactor": c.blockFactor = try int()
            case "blockWidths": c.blockWidths = try ints()
            case "lowRank": c.lowRank = try int()
            case "gruLayers": c.gruLayers = try int()
            case "caserWindow": c.caserWindow = try int()
            case "caserHorizontal": c.caserHorizontal = try int()
            case "caserVertical": c.caserVertical = try int()
            case "layerNormEps":
                switch value {
                case .double(let d): c.layerNormEps = Float(d)
                case .int(let i): c.layerNormEps = Float(i)
                default: throw bad("a number")
                }
            case "maskPadding": if case .bool(let b) = value { c.maskPadding = b } else { throw bad("true or false") }
            case "heads": c.heads = try int()
            case "depth": c.depth = try int()
            case "positions": c.positions = try int()
            case "dropout":
                switch value {
                case .double(let d): c.dropout = d
                case .int(let i): c.dropout = Double(i)
                default: throw bad("a number")
                }
            default: throw bad("a known model key")
            }
        }
        for key in keys.sorted() {
            if let v = defaults[key], c.kind == .sasrec || !sasrecKeys.contains(key) { try apply(key, v, nil) }
        }
        for (key, child) in try node.entries() where key != "training" { try apply(key, try scalar(child), child) }
        if c.dim < 1 || c.kernel < 1 || c.dilations.isEmpty || c.dilations.contains(where: { $0 < 1 }) {
            throw node.fail("dim, kernel and dilations must be positive (got dim \(c.dim), kernel \(c.kernel), dilations \(c.dilations))")
        }
        return c
    }

    /// Type- and range-checks a profile's `model:` defaults where their lines are known: applied later under a
    /// model entry, a bad default could only be blamed on that entry or on no line at all.
    static func checkDefaults(_ node: SpecNode) throws {
        guard case .mapping(let mapping) = node.node else { return }
        // Probed as SASRec, the one kind that reads every key, so every default is type-checked.
        let pairs = mapping.map { ($0.key, $0.value) } + [(Node("kind"), Node("sasrec"))]
        let probe = Node.mapping(Node.Mapping(pairs, .implicit, .any, mapping.mark))
        _ = try read(SpecNode(node: probe, file: node.file, path: node.path), defaults: [:])
    }

    static func scalar(_ node: SpecNode) throws -> SpecScalar {
        switch node.node {
        case .sequence: return .ints(try node.ints())
        case .mapping: throw node.fail("expected a value, found a mapping")
        case .scalar:
            let text = try node.string()
            if ["true", "false"].contains(text) { return .bool(text == "true") }
            if let i = Int(text) { return .int(i) }
            if let d = Double(text) { return .double(d) }
            return .string(text)
        }
    }
}

/// Reads one profile mapping.
enum ProfileReader {
    static func read(name: String, node: SpecNode) throws -> ProfileSpec {
        try node.checkKeys(["summary", "datasets", "training", "model", "figure1", "transfer", "inferenceBatch", "seeds", "scaleMap",
                            "perDataset", "companions"])
        var defaults: [String: SpecScalar] = [:]
        if let m = node["model"] {
            try m.checkKeys(ModelConfigReader.keys.filter { $0 != "kind" })
            for (k, v) in try m.entries() { defaults[k] = try ModelConfigReader.scalar(v) }
            try ModelConfigReader.checkDefaults(m)
        }
        let t = try node.required("training")
        try t.checkKeys(["batchSize", "maxEpochs", "patience", "minEpochs", "learningRate", "l2", "selection", "seed", "threads"])
        let training = TrainingSpec(
            batchSize: try t.required("batchSize").int(), maxEpochs: try t.required("maxEpochs").int(),
            patience: try t["patience"]?.int() ?? 2, minEpochs: try t["minEpochs"]?.int() ?? 1,
            learningRate: try t["learningRate"]?.double() ?? 1e-3,
            l2: try t["l2"]?.double() ?? 0, selection: try t["selection"]?.oneOf(["validation", "paper"]) ?? "validation",
            seed: UInt64(try t["seed"]?.int() ?? 10), threads: try t["threads"]?.int() ?? 1)
        if training.batchSize < 1 || training.maxEpochs < 1 || training.threads < 1 || training.minEpochs < 1 {
            throw t.fail("batchSize, maxEpochs, minEpochs and threads must be ≥ 1")
        }
        let seedCount = try node["seeds"]?.int() ?? 1
        if seedCount < 1 || seedCount > 100 { throw (try node.required("seeds")).fail("seeds must be 1...100 (got \(seedCount))") }
        var fig1: Figure1Spec?
        if let f = node["figure1"] {
            try f.checkKeys(["dataset", "dims", "depths"])
            fig1 = Figure1Spec(dataset: try f.required("dataset").string(), dims: try f.required("dims").ints(),
                               depths: try f.required("depths").ints())
        }
        var transfer: TransferSpec?
        if let x = node["transfer"] {
            try x.checkKeys(["dataset", "models", "epochs", "negatives", "freezeBackbone"])
            transfer = TransferSpec(dataset: try x.required("dataset").string(), models: try x.required("models").strings(),
                                    epochs: try x["epochs"]?.int() ?? 5, negatives: try x["negatives"]?.int() ?? 99,
                                    freezeBackbone: try x["freezeBackbone"]?.bool() ?? false)
        }
        var profile = ProfileSpec(name: name, summary: try node.required("summary").string(),
                                  datasets: try node.required("datasets").strings(), training: training,
                                  modelDefaults: defaults, figure1: fig1, transfer: transfer,
                                  inferenceBatch: try node["inferenceBatch"]?.int() ?? 128,
                                  seeds: (0..<UInt64(seedCount)).map { training.seed &+ $0 })
        if let s = node["scaleMap"] {
            try s.checkKeys(["vocabularies", "dims", "budget"])
            let spec = ScaleMapSpec(vocabularies: try s.required("vocabularies").ints(), dims: try s.required("dims").ints(),
                                    budget: try s["budget"]?.double() ?? 0.3)
            if spec.vocabularies.contains(where: { $0 < 8 }) || spec.dims.contains(where: { $0 < 16 }) {
                throw s.fail("vocabularies must be ≥ 8 and dims ≥ 16 (tail widths d/16 ≥ 1)")
            }
            profile.scaleMap = spec
        }
        profile.companions = try node["companions"]?.strings() ?? []
        if let plans = node["perDataset"] {
            for (name, p) in try plans.entries() {
                if !profile.datasets.contains(name) {
                    throw p.fail("'\(name)' is not among this profile's datasets (\(profile.datasets.joined(separator: ", ")))")
                }
                try p.checkKeys(["models", "tables", "model"])
                var plan = DatasetPlan(models: try p["models"]?.strings(), tables: try p["tables"]?.strings())
                if let m = p["model"] {
                    try m.checkKeys(ModelConfigReader.keys.filter { $0 != "kind" })
                    for (k, v) in try m.entries() { plan.model[k] = try ModelConfigReader.scalar(v) }
                    try ModelConfigReader.checkDefaults(m)
                }
                profile.perDataset[name] = plan
            }
        }
        return profile
    }
}
