import Datasets
import Foundation
import Models
import Pipeline
import Training
import Yams

// The schema of pipeline/models.yaml, experiments.yaml and profiles.yaml (datasets.yaml: DatasetCatalog.swift,
// paper-values.yaml: PaperValues.swift). Every type is decoded by `SpecDecoder`, which names file, line and key
// path on any failure; each type rejects keys it does not know, checks its ranges in `init(from:)`, and takes its
// defaults from `SpecDefaults`.

/// Every default a spec may leave out, in one place. Model settings default to `ModelConfig`'s own initial values.
enum SpecDefaults {
    static let patience = 2
    static let minEpochs = 1
    static let learningRate = 1e-3
    static let l2 = 0.0
    static let selection = TrainOptions.Selection.validation
    static let seed = 10
    static let threads = 1
    static let seeds = 1
    static let inferenceBatch = 128
    static let transferEpochs = 5
    static let transferNegatives = 99
    static let freezeBackbone = false
    static let scaleMapBudget = 0.3
    static let blocks = BlockRule(rule: .massFractions, fractions: [0.6, 0.85])

    /// `ModelConfig(kind:)` as a mapping layer: what a model entry and its profile leave out.
    static func modelLayer(_ kind: ModelConfig.Kind) -> SpecLayer {
        let text = (try? YAMLEncoder().encode(ModelConfig(kind: kind))) ?? "{}"
        let node = (try? Yams.compose(yaml: text)) ?? nil
        return SpecLayer(node: node ?? Node([(Node, Node)]()), file: "ModelConfig defaults", path: [], keyMark: nil)
    }

    /// The keys a model entry or a profile's `model:` may set: exactly `ModelConfig`'s stored properties (optional
    /// ones, left out of the encoded defaults, included).
    static let modelKeys: [String] = Mirror(reflecting: ModelConfig(kind: .nextitnet)).children.compactMap(\.label)

    /// Keys only one kind reads: a profile default of one applies to that kind's entries only, so the configs (and
    /// stage keys) of the other kinds do not change when a profile sets it.
    static let kindOnlyKeys: [String: ModelConfig.Kind] = [
        "heads": .sasrec, "depth": .sasrec, "positions": .sasrec, "dropout": .sasrec,
        "scaleEmbedding": .sasrec, "maskPaddingKeys": .sasrec
    ]
}

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

/// Training settings as a spec writes them (a profile's `training:` or a model's overrides); nil = not given.
/// Ranges are checked here once for both places.
struct TrainingSettings: Decodable {
    enum Key: String, CodingKey, CaseIterable {
        case batchSize, maxEpochs, patience, minEpochs, learningRate, l2, selection, seed, threads
    }
    var batchSize, maxEpochs, patience, minEpochs, threads: Int?
    var learningRate, l2: Double?
    var selection: String?
    var seed: UInt64?

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        func count(_ key: Key) throws -> Int? {
            let v = try c.decodeIfPresent(Int.self, forKey: key)
            if let v, v < 1 { throw c.invalid(key, "an integer ≥ 1", found: v) }
            return v
        }
        batchSize = try count(.batchSize)
        maxEpochs = try count(.maxEpochs)
        patience = try count(.patience)
        minEpochs = try count(.minEpochs)
        threads = try count(.threads)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate)
        if let v = learningRate, !(v > 0 && v.isFinite) {
            throw c.invalid(.learningRate, "a positive number", found: v)
        }
        l2 = try c.decodeIfPresent(Double.self, forKey: .l2)
        if let v = l2, !(v >= 0 && v.isFinite) { throw c.invalid(.l2, "a number ≥ 0", found: v) }
        selection = try c.decodeChoice(.selection, ["validation", "paper"])
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    }
}

/// Per-model training settings (models.yaml); nil keeps the profile's value.
public struct TrainingOverrides: Sendable, Hashable, Decodable {
    static let keys = ["learningRate", "minEpochs", "patience", "maxEpochs", "batchSize"]
    public var learningRate: Double?
    public var minEpochs: Int?
    public var patience: Int?
    public var maxEpochs: Int?
    public var batchSize: Int?

    init() {}

    public init(from decoder: Decoder) throws {
        // The data split, seed, threads and selection rule are the profile's: one model cannot change them.
        try rejectUnknownKeys(decoder, allowed: Self.keys)
        let s = try TrainingSettings(from: decoder)
        learningRate = s.learningRate
        minEpochs = s.minEpochs
        patience = s.patience
        maxEpochs = s.maxEpochs
        batchSize = s.batchSize
    }

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
}

/// One table of pipeline/experiments.yaml.
public struct TableSpec: Sendable {
    public var name: String
    public var title: String
    public var caption: String
    public var rows: [String]
    public var columns: [TableColumn]
    /// The model every row's Speedup is timed against (`reference:`, default `roles.baseline`).
    public var reference: String
}

/// Which models play which part in the paper's argument (experiments.yaml `roles:`). Claims, the headline table
/// and the scale map read these names, so a new variant or backbone needs a spec edit, not a Swift one.
public struct Roles: Codable, Hashable, Sendable {
    /// The uncompressed backbone CpRec is compared with, and the default speedup reference of every table.
    public var baseline: String
    /// The learning guard: a model that does not beat it "did not learn" and is left out of every claim.
    public var popularity: String
    /// The CpRec variants (compression, speed, accuracy and transfer claims; the headline table).
    public var cprec: [String]
    /// Block-wise decomposition alone (the blockwise claim reports each; `blockwiseJudged` decides it).
    public var blockwise: [String]
    public var blockwiseJudged: String
    /// Layer-wise sharing alone (the sharing claim picks the best of them).
    public var sharing: [String]
    /// Another backbone family's baseline and CpRec variants (the self-attention claim), if declared.
    public var selfAttention: Family?

    /// A backbone and its CpRec variants.
    public struct Family: Codable, Hashable, Sendable {
        public var baseline: String
        public var cprec: [String]
    }

    /// Every model a role names, for reference checks.
    var allModels: [String] {
        [baseline, popularity, blockwiseJudged] + cprec + blockwise + sharing
            + (selfAttention.map { [$0.baseline] + $0.cprec } ?? [])
    }
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
    public var selection: TrainOptions.Selection
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
    /// Models swept over `dims` (the first also over `depths`); nil = experiments.yaml `figures.fig1.model` alone.
    public var models: [String]? = nil
}

/// The transfer-learning experiment (Table 6).
public struct TransferSpec: Sendable {
    public var dataset: String
    public var models: [String]
    public var epochs: Int
    public var negatives: Int
    public var freezeBackbone: Bool
    /// How the random-init row trains (nil = the same `epochs` as fine-tuning, the profile's learning rate).
    public var scratch: ScratchTraining? = nil
}

/// The random-init transfer baseline trained in its own right: early stopping on the target validation split under
/// a cap it should never reach, and the best of a small learning-rate grid on that split.
public struct ScratchTraining: Codable, Hashable, Sendable {
    public var maxEpochs: Int
    public var patience: Int
    public var learningRates: [Double]
}

/// A profile: which datasets and settings `pipeline all --profile NAME` uses.
public struct ProfileSpec: Sendable {
    public var name: String
    public var summary: String
    public var datasets: [String]
    public var training: TrainingSpec
    /// Model defaults laid under every model entry, first wins: a dataset's `perDataset.<d>.model:` (see `on`),
    /// then the profile's `model:` (an entry's own keys win over both).
    var modelDefaults: [SpecLayer] = []
    public var figure1: Figure1Spec?
    public var transfer: TransferSpec?
    public var inferenceBatch: Int
    /// Training seeds: every model of Tables 2-7 and Figure 1 is trained once per seed (`seeds: N` in the
    /// profile = training.seed, training.seed + 1, …). A seed moves initialisation and batch order, never the
    /// data split (prep has its own seed).
    public var seeds: [UInt64]
    /// `claimSeeds:` more seeds where the claims rest: these models (on every dataset), Figure 1's points at these
    /// dims and depths, and Table 6; every other run keeps `seeds`.
    public var claimSeeds: ClaimSeeds? = nil
    public struct ClaimSeeds: Codable, Hashable, Sendable {
        public var seeds: [UInt64]
        public var models: [String]
        public var dims: [Int]
        public var depths: [Int]
    }
    /// The seeds a model's runs use (its own list when `claimSeeds` names it).
    public func seeds(for model: String) -> [UInt64] {
        guard let c = claimSeeds, c.models.contains(model) else { return seeds }
        return c.seeds
    }
    /// Models whose seed list differs from `seeds` (stage parameters carry it only when non-empty).
    public var seedsByModel: [String: [UInt64]] {
        guard let c = claimSeeds else { return [:] }
        return Dictionary(uniqueKeysWithValues: c.models.map { ($0, c.seeds) })
    }
    /// Optional: the profile builds the scale map only when it declares one.
    public var scaleMap: ScaleMapSpec? = nil
    /// `sampledNegatives: N`: every evaluation also ranks the target against N sampled items (uniform and
    /// popularity-weighted), and the literature table sets ours beside published numbers of that protocol.
    public var sampledNegatives: Int? = nil
    /// `timedRows: N`: evaluate times top-5 inference on the first N test rows (default 2000); the metrics use every
    /// row.
    public var timedRows: Int? = nil
    /// Per-dataset plans (`perDataset:`): which models and tables a dataset takes part in, and its model defaults.
    public var perDataset: [String: DatasetPlan] = [:]
    /// Other profiles whose committed results (`results/<profile>/`) this profile's report shows in their own section.
    public var companions: [String] = []
    /// `figures: [...]`: the figures this profile draws, of `Registry.figures` (nil: every one it can, Figure 1
    /// and the scale map only when `figure1:` and `scaleMap:` say what to sweep).
    public var figures: [String]? = nil

    /// Whether this profile draws figure `kind`.
    public func draws(_ kind: String) -> Bool { figures?.contains(kind) ?? true }
    /// Hyperparameter search before final training (nil = every model trains with its spec'd settings).
    public var tuning: TuningSpec?
    /// Names as written, with their lines, checked against the other files after loading.
    var datasetRefs: [Located] = []
    var modelRefs: [Located] = []
    var tableRefs: [Located] = []
    var companionRefs: [Located] = []

    /// The profile as one dataset sees it: its own `model:` defaults laid over the profile's.
    public func on(_ dataset: String) -> ProfileSpec {
        guard let layer = perDataset[dataset]?.model else { return self }
        var p = self
        p.modelDefaults = [layer] + modelDefaults
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
}

/// One dataset's place in a profile (profiles.yaml `perDataset.<dataset>`): a large dataset can run a subset of the
/// models, appear in some tables only, and take its own model defaults (e.g. block widths).
public struct DatasetPlan: Sendable {
    /// Only these models are trained on the dataset (nil = every model the tables and figures name).
    public var models: [String]?
    /// Only these tables show the dataset (nil = every table).
    public var tables: [String]?
    /// Model defaults for this dataset, over the profile's `model:` and under each entry's own keys.
    var model: SpecLayer?
    var modelRefs: [Located] = []
    var tableRefs: [Located] = []
}

extension DatasetPlan: Decodable {
    private enum Key: String, CodingKey, CaseIterable { case models, tables, model }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        modelRefs = try c.decodeIfPresent([Located].self, forKey: .models) ?? []
        tableRefs = try c.decodeIfPresent([Located].self, forKey: .tables) ?? []
        models = c.contains(.models) ? modelRefs.map(\.value) : nil
        tables = c.contains(.tables) ? tableRefs.map(\.value) : nil
        model = try c.decodeIfPresent(ModelDefaultsNode.self, forKey: .model)?.layer
    }
}

/// Decodes a model's configuration over layers (entry, profile defaults, `ModelConfig` defaults) and checks its
/// ranges, blaming a bad value on the layer (file and line) it came from.
enum ModelSettings {
    /// Each checked key with the rule its value must meet (nil = fine).
    static let ranges: [(key: String, check: (ModelConfig) -> String?)] = [
        ("dim", { $0.dim >= 1 ? nil : "an integer ≥ 1, found \($0.dim)" }),
        ("kernel", { $0.kernel >= 1 ? nil : "an integer ≥ 1, found \($0.kernel)" }),
        (
            "dilations",
            {
                !$0.dilations.isEmpty && $0.dilations.allSatisfy { $0 >= 1 }
                    ? nil : "a non-empty list of integers ≥ 1, found \($0.dilations)"
            }
        ),
        ("blocks", { $0.blocks.allSatisfy { $0 >= 1 } ? nil : "integers ≥ 1, found \($0.blocks)" }),
        ("blockFactor", { $0.blockFactor >= 1 ? nil : "an integer ≥ 1, found \($0.blockFactor)" }),
        ("blockWidths", { $0.blockWidths.allSatisfy { $0 >= 1 } ? nil : "integers ≥ 1, found \($0.blockWidths)" }),
        ("lowRank", { $0.lowRank >= 1 ? nil : "an integer ≥ 1, found \($0.lowRank)" }),
        ("gruLayers", { $0.gruLayers >= 1 ? nil : "an integer ≥ 1, found \($0.gruLayers)" }),
        ("caserWindow", { $0.caserWindow >= 1 ? nil : "an integer ≥ 1, found \($0.caserWindow)" }),
        ("caserHorizontal", { $0.caserHorizontal >= 1 ? nil : "an integer ≥ 1, found \($0.caserHorizontal)" }),
        ("caserVertical", { $0.caserVertical >= 1 ? nil : "an integer ≥ 1, found \($0.caserVertical)" }),
        (
            "layerNormEps",
            { $0.layerNormEps > 0 && $0.layerNormEps.isFinite ? nil : "a positive number, found \($0.layerNormEps)" }
        ),
        ("heads", { ($0.heads ?? 1) >= 1 ? nil : "an integer ≥ 1, found \($0.heads ?? 0)" }),
        ("depth", { ($0.depth ?? 1) >= 1 ? nil : "an integer ≥ 1, found \($0.depth ?? 0)" }),
        ("positions", { ($0.positions ?? 1) >= 1 ? nil : "an integer ≥ 1, found \($0.positions ?? 0)" }),
        ("dropout", { (0..<1).contains($0.dropout ?? 0) ? nil : "a number in [0, 1), found \($0.dropout ?? 0)" })
    ]

    static func decode(_ layers: [SpecLayer]) throws -> ModelConfig {
        let config = try SpecDecoder(layers: layers).decodeValue(ModelConfig.self)
        for (key, check) in ranges {
            guard let problem = check(config) else { continue }
            let at = layers.lazy.compactMap { $0.child(key) }.first ?? layers[0]
            throw at.location.error("expected \(problem)")
        }
        return config
    }
}

/// A models.yaml entry: label, kind and training overrides besides the `ModelConfig` keys.
private struct ModelEntryNode: Decodable {
    var kind: ModelConfig.Kind
    var label: String?
    var training: TrainingOverrides?
    var layer: SpecLayer

    private enum Key: String, CodingKey { case kind, label, training }

    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: SpecDefaults.modelKeys + ["label", "training"])
        let c = try decoder.container(keyedBy: Key.self)
        kind = try c.decode(ModelConfig.Kind.self, forKey: .kind)
        label = try c.decodeIfPresent(Label.self, forKey: .label)?.text
        training = try c.decodeIfPresent(TrainingOverrides.self, forKey: .training)
        layer = (decoder as! SpecDecoder).layers[0]
    }
}

/// A profile's `model:` defaults: `ModelConfig` keys except `kind`, checked where they are written.
struct ModelDefaultsNode: Decodable {
    var layer: SpecLayer

    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: SpecDefaults.modelKeys.filter { $0 != "kind" })
        layer = (decoder as! SpecDecoder).layers[0]
        _ = try ModelSettings.decode([layer, SpecDefaults.modelLayer(.nextitnet)])
    }
}

extension ProfileSpec: Decodable {
    private enum Key: String, CodingKey, CaseIterable {
        case summary, datasets, training, model, figure1, transfer, inferenceBatch, seeds, scaleMap, perDataset,
            companions, claimSeeds, tuning
        case sampledNegatives, timedRows, figures
    }
    private enum ClaimSeedsKey: String, CodingKey, CaseIterable { case count, models, dims, depths }
    private enum Figure1Key: String, CodingKey, CaseIterable { case dataset, dims, depths, models }
    private enum TransferKey: String, CodingKey, CaseIterable {
        case dataset, models, epochs, negatives, freezeBackbone, scratch
    }
    private enum ScratchKey: String, CodingKey, CaseIterable { case maxEpochs, patience, learningRates }
    private enum ScaleMapKey: String, CodingKey, CaseIterable { case vocabularies, dims, budget }

    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        name = decoder.codingPath.last?.stringValue ?? ""
        summary = try c.decode(String.self, forKey: .summary)
        let datasetRefs = try c.decode([Located].self, forKey: .datasets)
        datasets = datasetRefs.map(\.value)
        modelDefaults = try c.decodeIfPresent(ModelDefaultsNode.self, forKey: .model).map { [$0.layer] } ?? []

        let t = try c.decode(TrainingSettings.self, forKey: .training)
        let tc = try c.nestedContainer(keyedBy: TrainingSettings.Key.self, forKey: .training)
        guard let batchSize = t.batchSize else {
            throw DecodingError.keyNotFound(
                TrainingSettings.Key.batchSize, .init(codingPath: tc.codingPath, debugDescription: ""))
        }
        guard let maxEpochs = t.maxEpochs else {
            throw DecodingError.keyNotFound(
                TrainingSettings.Key.maxEpochs, .init(codingPath: tc.codingPath, debugDescription: ""))
        }
        let trainingSpec = TrainingSpec(
            batchSize: batchSize, maxEpochs: maxEpochs, patience: t.patience ?? SpecDefaults.patience,
            minEpochs: t.minEpochs ?? SpecDefaults.minEpochs, learningRate: t.learningRate ?? SpecDefaults.learningRate,
            l2: t.l2 ?? SpecDefaults.l2,
            selection: t.selection.flatMap(TrainOptions.Selection.init(rawValue:)) ?? SpecDefaults.selection,
            seed: t.seed ?? UInt64(SpecDefaults.seed), threads: t.threads ?? SpecDefaults.threads)
        training = trainingSpec

        let seedCount = try c.decodeIfPresent(Int.self, forKey: .seeds) ?? SpecDefaults.seeds
        if !(1...100).contains(seedCount) { throw c.invalid(.seeds, "an integer in 1...100", found: seedCount) }
        seeds = (0..<UInt64(seedCount)).map { trainingSpec.seed &+ $0 }
        var claimModelRefs: [Located] = []
        if c.contains(.claimSeeds) {
            try rejectUnknownKeys(
                try c.superDecoder(forKey: .claimSeeds), allowed: ClaimSeedsKey.allCases.map(\.rawValue))
            let x = try c.nestedContainer(keyedBy: ClaimSeedsKey.self, forKey: .claimSeeds)
            let count = try x.decode(Int.self, forKey: .count)
            if !(seedCount...100).contains(count) {
                throw x.invalid(.count, "an integer in \(seedCount)...100 (at least `seeds`)", found: count)
            }
            claimModelRefs = try x.decode([Located].self, forKey: .models)
            claimSeeds = ClaimSeeds(
                seeds: (0..<UInt64(count)).map { trainingSpec.seed &+ $0 }, models: claimModelRefs.map(\.value),
                dims: try x.decodeIfPresent([Int].self, forKey: .dims) ?? [],
                depths: try x.decodeIfPresent([Int].self, forKey: .depths) ?? [])
        }
        inferenceBatch = try c.decodeIfPresent(Int.self, forKey: .inferenceBatch) ?? SpecDefaults.inferenceBatch
        if inferenceBatch < 1 { throw c.invalid(.inferenceBatch, "an integer ≥ 1", found: inferenceBatch) }
        sampledNegatives = try c.decodeIfPresent(Int.self, forKey: .sampledNegatives)
        if let n = sampledNegatives, !(1...10_000).contains(n) {
            throw c.invalid(.sampledNegatives, "an integer in 1...10000", found: n)
        }
        timedRows = try c.decodeIfPresent(Int.self, forKey: .timedRows)
        if let n = timedRows, n < 1 { throw c.invalid(.timedRows, "an integer ≥ 1", found: n) }

        var refs = datasetRefs
        var models: [Located] = []
        if c.contains(.figure1) {
            let f = try c.nestedContainer(keyedBy: Figure1Key.self, forKey: .figure1)
            try rejectUnknownKeys(try c.superDecoder(forKey: .figure1), allowed: Figure1Key.allCases.map(\.rawValue))
            let dataset = try f.decode(Located.self, forKey: .dataset)
            refs.append(dataset)
            let dims = try f.decode([Int].self, forKey: .dims), depths = try f.decode([Int].self, forKey: .depths)
            if dims.contains(where: { $0 < 1 }) { throw f.invalid(.dims, "integers ≥ 1", found: dims) }
            if depths.contains(where: { $0 < 1 }) { throw f.invalid(.depths, "integers ≥ 1", found: depths) }
            figure1 = Figure1Spec(dataset: dataset.value, dims: dims, depths: depths)
            if let list = try f.decodeIfPresent([Located].self, forKey: .models) {
                if list.isEmpty { throw f.invalid(.models, "a non-empty list of models", found: "[]") }
                models += list
                figure1?.models = list.map(\.value)
            }
        }
        if c.contains(.transfer) {
            let x = try c.nestedContainer(keyedBy: TransferKey.self, forKey: .transfer)
            try rejectUnknownKeys(try c.superDecoder(forKey: .transfer), allowed: TransferKey.allCases.map(\.rawValue))
            let dataset = try x.decode(Located.self, forKey: .dataset)
            refs.append(dataset)
            let transferModels = try x.decode([Located].self, forKey: .models)
            models += transferModels
            let epochs = try x.decodeIfPresent(Int.self, forKey: .epochs) ?? SpecDefaults.transferEpochs
            let negatives = try x.decodeIfPresent(Int.self, forKey: .negatives) ?? SpecDefaults.transferNegatives
            if epochs < 1 { throw x.invalid(.epochs, "an integer ≥ 1", found: epochs) }
            if negatives < 1 { throw x.invalid(.negatives, "an integer ≥ 1", found: negatives) }
            transfer = TransferSpec(
                dataset: dataset.value, models: transferModels.map(\.value), epochs: epochs, negatives: negatives,
                freezeBackbone: try x.decodeIfPresent(Bool.self, forKey: .freezeBackbone) ?? SpecDefaults.freezeBackbone
            )
            if x.contains(.scratch) {
                let sc = try x.nestedContainer(keyedBy: ScratchKey.self, forKey: .scratch)
                try rejectUnknownKeys(
                    try x.superDecoder(forKey: .scratch), allowed: ScratchKey.allCases.map(\.rawValue))
                let cap = try sc.decode(Int.self, forKey: .maxEpochs),
                    patience = try sc.decode(Int.self, forKey: .patience)
                let rates = try sc.decode([Double].self, forKey: .learningRates)
                if cap < 1 { throw sc.invalid(.maxEpochs, "an integer ≥ 1", found: cap) }
                if !(1...cap).contains(patience) {
                    throw sc.invalid(.patience, "an integer in 1...maxEpochs", found: patience)
                }
                if rates.isEmpty || rates.contains(where: { !($0 > 0 && $0.isFinite) }) {
                    throw sc.invalid(.learningRates, "a non-empty list of positive numbers", found: rates)
                }
                transfer?.scratch = ScratchTraining(maxEpochs: cap, patience: patience, learningRates: rates)
            }
        }
        if c.contains(.scaleMap) {
            let s = try c.nestedContainer(keyedBy: ScaleMapKey.self, forKey: .scaleMap)
            try rejectUnknownKeys(try c.superDecoder(forKey: .scaleMap), allowed: ScaleMapKey.allCases.map(\.rawValue))
            let spec = ScaleMapSpec(
                vocabularies: try s.decode([Int].self, forKey: .vocabularies),
                dims: try s.decode([Int].self, forKey: .dims),
                budget: try s.decodeIfPresent(Double.self, forKey: .budget) ?? SpecDefaults.scaleMapBudget)
            // Tail block widths are d/16, and the smallest vocabulary must hold three blocks.
            if spec.vocabularies.contains(where: { $0 < 8 }) {
                throw s.invalid(.vocabularies, "integers ≥ 8", found: spec.vocabularies)
            }
            if spec.dims.contains(where: { $0 < 16 }) {
                throw s.invalid(.dims, "integers ≥ 16 (tail widths d/16 ≥ 1)", found: spec.dims)
            }
            if !(spec.budget > 0) { throw s.invalid(.budget, "a positive number of seconds", found: spec.budget) }
            scaleMap = spec
        }
        companionRefs = try c.decodeIfPresent([Located].self, forKey: .companions) ?? []
        companions = companionRefs.map(\.value)
        if let refs = try c.decodeIfPresent([Located].self, forKey: .figures) {
            let names = Registry.figureNames
            for r in refs {
                guard let kind = Registry.figure(r.value) else {
                    throw r.location.error(
                        "unknown figure '\(r.value)'\(didYouMean(r.value, names)); a profile draws "
                            + names.joined(separator: ", "))
                }
                // Figure 1 and the scale map draw what their own keys declare; naming them without those is a slip.
                if let key = kind.profileKey, !kind.declared(in: self) {
                    throw r.location.error("figures: '\(r.value)' needs the profile's `\(key):` key (what it draws)")
                }
            }
            figures = refs.map(\.value)
        }
        if c.contains(.perDataset) {
            let plans = try c.decode(IdMap<DatasetPlan>.self, forKey: .perDataset)
            let keys = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .perDataset)
            for (name, plan) in plans.entries {
                if !datasets.contains(name) {
                    throw DecodingError.dataCorruptedError(
                        forKey: AnyKey(name), in: keys,
                        debugDescription:
                            "'\(name)' is not among this profile's datasets (\(datasets.joined(separator: ", ")))")
                }
                models += plan.modelRefs
                tableRefs += plan.tableRefs
                perDataset[name] = plan
            }
        }
        if c.contains(.tuning) {
            let t = try c.decode(TuningNode.self, forKey: .tuning).spec
            let finalSeeds = claimSeeds.map { Array(Set(seeds + $0.seeds)).sorted() } ?? seeds
            if finalSeeds.contains(t.seed) {
                let tc = try c.nestedContainer(keyedBy: TuningNode.Key.self, forKey: .tuning)
                throw tc.invalid(
                    .seed,
                    "a seed that is not one of the profile's final seeds (\(finalSeeds.map(String.init).joined(separator: ", ")))",
                    found: t.seed)
            }
            for d in t.datasetRefs where !datasets.contains(d.value) {
                throw d.location.error(
                    "'\(d.value)' is not among this profile's datasets (\(datasets.joined(separator: ", ")))")
            }
            models += t.modelRefs
            tuning = t
        }
        self.datasetRefs = refs
        modelRefs = models + claimModelRefs
    }
}

/// pipeline/experiments.yaml as written.
private struct ExperimentsFile: Decodable {
    struct Table: Decodable {
        enum Key: String, CodingKey, CaseIterable { case title, caption, rows, columns, reference }
        var title: String, caption: String
        var rows: [Located]
        var columns: [TableColumn]
        var reference: Located?
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            title = try c.decode(String.self, forKey: .title)
            caption = try c.decode(String.self, forKey: .caption)
            rows = try c.decode([Located].self, forKey: .rows)
            columns = try c.decode([TableColumn].self, forKey: .columns)
            reference = try c.decodeIfPresent(Located.self, forKey: .reference)
        }
    }
    struct ModelList: Decodable {
        enum Key: String, CodingKey, CaseIterable { case models }
        var models: [Located]
        init(from decoder: Decoder) throws {
            models = try decoder.strictContainer(Key.self).decode([Located].self, forKey: .models)
        }
    }
    struct Fig1: Decodable {
        enum Key: String, CodingKey, CaseIterable { case model }
        var model: Located
        init(from decoder: Decoder) throws {
            model = try decoder.strictContainer(Key.self).decode(Located.self, forKey: .model)
        }
    }
    struct ScaleMap: Decodable {
        enum Key: String, CodingKey, CaseIterable { case reference, models, plotted }
        var reference: Located, models: [Located], plotted: Located
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            reference = try c.decode(Located.self, forKey: .reference)
            models = try c.decode([Located].self, forKey: .models)
            plotted = try c.decode(Located.self, forKey: .plotted)
            if !models.map(\.value).contains(plotted.value) {
                throw c.invalid(
                    .plotted, "one of the scale map's models (\(models.map(\.value).joined(separator: ", ")))",
                    found: "'\(plotted.value)'")
            }
        }
    }
    struct Figures: Decodable {
        enum Key: String, CodingKey, CaseIterable { case fig1, pareto, convergence, scalemap }
        var fig1: Fig1, pareto: ModelList, convergence: ModelList, scalemap: ScaleMap
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            fig1 = try c.decode(Fig1.self, forKey: .fig1)
            pareto = try c.decode(ModelList.self, forKey: .pareto)
            convergence = try c.decode(ModelList.self, forKey: .convergence)
            scalemap = try c.decode(ScaleMap.self, forKey: .scalemap)
        }
    }
    struct RolesNode: Decodable {
        enum Key: String, CodingKey, CaseIterable {
            case baseline, popularity, cprec, blockwise, blockwiseJudged, sharing, selfAttention
        }
        struct FamilyNode: Decodable {
            enum Key: String, CodingKey, CaseIterable { case baseline, cprec }
            var baseline: Located, cprec: [Located]
            init(from decoder: Decoder) throws {
                let c = try decoder.strictContainer(Key.self)
                baseline = try c.decode(Located.self, forKey: .baseline)
                cprec = try c.decode([Located].self, forKey: .cprec)
            }
        }
        var refs: [Located]
        var roles: Roles
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            let baseline = try c.decode(Located.self, forKey: .baseline),
                popularity = try c.decode(Located.self, forKey: .popularity)
            let judged = try c.decode(Located.self, forKey: .blockwiseJudged)
            let cprec = try c.decode([Located].self, forKey: .cprec),
                blockwise = try c.decode([Located].self, forKey: .blockwise)
            let sharing = try c.decode([Located].self, forKey: .sharing)
            if !blockwise.map(\.value).contains(judged.value) {
                throw c.invalid(.blockwiseJudged, "one of roles.blockwise", found: "'\(judged.value)'")
            }
            let family = try c.decodeIfPresent(FamilyNode.self, forKey: .selfAttention)
            refs =
                [baseline, popularity, judged] + cprec + blockwise + sharing
                + (family.map { [$0.baseline] + $0.cprec } ?? [])
            roles = Roles(
                baseline: baseline.value, popularity: popularity.value, cprec: cprec.map(\.value),
                blockwise: blockwise.map(\.value), blockwiseJudged: judged.value, sharing: sharing.map(\.value),
                selfAttention: family.map { Roles.Family(baseline: $0.baseline.value, cprec: $0.cprec.map(\.value)) })
        }
    }
    enum Key: String, CodingKey, CaseIterable { case roles, tables, figures }
    var roles: RolesNode
    var tables: IdMap<Table>
    var figures: Figures
    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        roles = try c.decode(RolesNode.self, forKey: .roles)
        tables = try c.decode(IdMap<Table>.self, forKey: .tables)
        figures = try c.decode(Figures.self, forKey: .figures)
    }
}

private struct ModelsFile: Decodable {
    enum Key: String, CodingKey, CaseIterable { case models }
    var models: IdMap<ModelEntryNode>
    init(from decoder: Decoder) throws {
        models = try decoder.strictContainer(Key.self).decode(IdMap<ModelEntryNode>.self, forKey: .models)
    }
}

private struct ProfilesFile: Decodable {
    enum Key: String, CodingKey, CaseIterable { case profiles }
    var profiles: IdMap<ProfileSpec>
    init(from decoder: Decoder) throws {
        profiles = try decoder.strictContainer(Key.self).decode(IdMap<ProfileSpec>.self, forKey: .profiles)
    }
}

/// Everything under pipeline/ but datasets: models, roles, tables, figures and profiles, validated on load.
public struct SpecBundle {
    public var directory: URL
    public var models: [String: ModelEntry]
    public var modelOrder: [String]
    public var roles: Roles
    public var tables: [TableSpec]
    public var paretoModels: [String]
    public var convergenceModels: [String]
    public var figure1Model: String
    /// The scale map's reference model, the models timed against it, and the one its figure plots.
    public var scaleMapReference: String
    public var scaleMapModels: [String]
    public var scaleMapPlotted: String
    public var profiles: [String: ProfileSpec]
    public var profileOrder: [String]
    /// Each model entry as written, so each profile's defaults can be layered under it.
    var modelLayers: [String: SpecLayer] = [:]

    /// Loads and cross-checks every spec file; every error names file, line and key.
    public static func load(_ directory: URL) throws -> SpecBundle {
        let modelsFile = try SpecFile.load(directory.appendingPathComponent("models.yaml")).decode(ModelsFile.self)
        let experiments = try SpecFile.load(directory.appendingPathComponent("experiments.yaml")).decode(
            ExperimentsFile.self)
        let profilesFile = try SpecFile.load(directory.appendingPathComponent("profiles.yaml")).decode(
            ProfilesFile.self)

        let modelOrder = modelsFile.models.ids
        func check(_ refs: [Located]) throws {
            for r in refs { try r.check(in: modelOrder, "model", declaredIn: "models.yaml") }
        }
        let e = experiments
        try check(e.roles.refs)
        var tables: [TableSpec] = []
        for (name, t) in e.tables.entries {
            try check(t.rows + (t.reference.map { [$0] } ?? []))
            let reference = t.reference?.value ?? e.roles.roles.baseline
            // A model's evaluate stage times it against one reference, so tables sharing a row must agree.
            for row in t.rows {
                if let other = tables.first(where: { $0.rows.contains(row.value) && $0.reference != reference }) {
                    throw row.location.error(
                        "'\(row.value)' is also in \(other.name), whose speedup reference is '\(other.reference)', not '\(reference)'; a model is timed against one reference"
                    )
                }
            }
            tables.append(
                TableSpec(
                    name: name, title: t.title, caption: t.caption, rows: t.rows.map(\.value),
                    columns: t.columns, reference: reference))
        }
        let f = e.figures
        try check([f.fig1.model, f.scalemap.reference] + f.pareto.models + f.convergence.models + f.scalemap.models)
        for (name, p) in profilesFile.profiles.entries {
            try check(p.modelRefs)
            for t in p.tableRefs { try t.check(in: tables.map(\.name), "table", declaredIn: "experiments.yaml") }
            for other in p.companionRefs where other.value == name || !profilesFile.profiles.ids.contains(other.value) {
                throw other.location.error(
                    "companions: '\(other.value)' must name another profile (\(profilesFile.profiles.ids.joined(separator: ", ")))"
                )
            }
        }

        // Each entry resolved once over the built-in defaults, so a bad entry fails at load, not in some profile.
        var models: [String: ModelEntry] = [:]
        var layers: [String: SpecLayer] = [:]
        for (name, node) in modelsFile.models.entries {
            models[name] = ModelEntry(
                name: name, label: node.label ?? name,
                config: try ModelSettings.decode([node.layer, SpecDefaults.modelLayer(node.kind)]),
                training: node.training ?? TrainingOverrides())
            layers[name] = node.layer
        }
        var bundle = SpecBundle(
            directory: directory, models: models, modelOrder: modelOrder, roles: e.roles.roles, tables: tables,
            paretoModels: f.pareto.models.map(\.value), convergenceModels: f.convergence.models.map(\.value),
            figure1Model: f.fig1.model.value, scaleMapReference: f.scalemap.reference.value,
            scaleMapModels: f.scalemap.models.map(\.value), scaleMapPlotted: f.scalemap.plotted.value,
            profiles: profilesFile.profiles.dictionary, profileOrder: profilesFile.profiles.ids)
        bundle.modelLayers = layers
        return bundle
    }

    /// Every dataset a profile names must be declared; the error points at the profile, where the typo is.
    func checkDatasets(in catalog: DatasetCatalog) throws {
        for name in profileOrder {
            for ref in profiles[name]?.datasetRefs ?? [] {
                try ref.check(in: catalog.order, "dataset", declaredIn: "datasets.yaml")
            }
        }
    }

    /// The model entry with the profile's defaults applied under the entry's own keys.
    public func model(_ name: String, profile: ProfileSpec) throws -> ModelEntry {
        guard let layer = modelLayers[name], var entry = models[name] else {
            throw SpecError(
                file: "models.yaml", line: nil, path: "models",
                message: "unknown model '\(name)'\(didYouMean(name, modelOrder))")
        }
        let kind = entry.config.kind
        let foreign = SpecDefaults.kindOnlyKeys.filter { $0.value != kind }.map(\.key)
        entry.config = try ModelSettings.decode(
            [layer] + profile.modelDefaults.map { $0.dropping(foreign) } + [SpecDefaults.modelLayer(kind)])
        return entry
    }

    /// The model a model's Speedup is timed against: the reference of the tables listing it, else the baseline.
    func speedupReference(for model: String) -> String {
        tables.first { $0.rows.contains(model) }?.reference ?? roles.baseline
    }

    public func profile(_ name: String) throws -> ProfileSpec {
        guard let p = profiles[name] else {
            throw SpecError(
                file: "profiles.yaml", line: nil, path: "profiles",
                message: "unknown profile '\(name)'; profiles: \(profileOrder.joined(separator: ", "))")
        }
        return p
    }
}
