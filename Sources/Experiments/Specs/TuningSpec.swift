import Datasets
import Foundation
import Kernels
import Models
import Pipeline
import Random
import Training

/// A profile's hyperparameter search (profiles.yaml `tuning:`): one space, one trial count and one per-trial epoch
/// cap for every tuned model of a dataset, so every model a claim compares gets the same budget by construction.
public struct TuningSpec: Sendable {
    /// The trials' training seed; never one of the profile's final seeds (tuning on a seed the tables report
    /// would select on the very runs that are judged).
    public var seed: UInt64
    /// Key → candidate values; keys are training settings (`learningRate`, `l2`) or `ModelConfig` keys (`dropout`).
    public var space: [(key: String, values: [Double])]
    /// Model family (ModelConfig.Kind) → keys only that family has (SASRec's dropout), added to `space` for its
    /// models. `trials` stays the same for every family: a family whose grid grows gets a sample of it.
    public var familySpace: [String: [(key: String, values: [Double])]] = [:]
    public var trials: Int
    public var maxEpochs: Int
    /// Models tuned on their own, in spec order.
    public var models: [String]
    /// Model → the tuned model whose chosen values it trains with (Table 3/4 ablations inherit NextItNet's).
    public var inherit: [String: String]
    /// A cheaper budget on expensive datasets (`perDataset.<d>: {trials, maxEpochs}`), the same for every model there.
    public var perDataset: [String: (trials: Int?, maxEpochs: Int?)] = [:]
    /// Datasets tuned (nil = every dataset of the profile).
    public var datasets: [String]?
    /// Tuned models also trained untuned (every final seed) on these datasets, so the report can give the test-set
    /// gain of tuning (`untuned: {models, datasets}`).
    public var untunedModels: [String] = []
    public var untunedDatasets: [String] = []
    var modelRefs: [Located] = []
    var datasetRefs: [Located] = []

    /// The tuned model whose choice `model` trains with (itself, its declared head, or nil = untuned).
    public func head(of model: String) -> String? {
        models.contains(model) ? model : inherit[model]
    }

    public func tunes(_ dataset: String) -> Bool { datasets.map { $0.contains(dataset) } ?? true }

    public func budget(on dataset: String) -> (trials: Int, maxEpochs: Int) {
        let o = perDataset[dataset]
        return (o?.trials ?? trials, o?.maxEpochs ?? maxEpochs)
    }

    /// The space a model of `kind` searches: the common keys, then its family's own.
    public func space(for kind: String?) -> [(key: String, values: [Double])] {
        space + (kind.flatMap { familySpace[$0] } ?? [])
    }

    /// The trials on one dataset: the full grid in spec key order when `trials` covers it, else a sample without
    /// repetition drawn with the tuning seed (the same sample for every model of a family, so they see the same
    /// candidates; a family with keys of its own samples its larger grid down to the same count).
    public func trialSettings(on dataset: String, kind: String? = nil) -> [TunedValues] {
        var grid: [[String: Double]] = [[:]]
        for (key, values) in space(for: kind) {
            grid = grid.flatMap { partial in values.map { v in partial.merging([key: v]) { $1 } } }
        }
        let n = budget(on: dataset).trials
        if n >= grid.count { return grid.map(TunedValues.init) }
        var rng = Rng(seed: seed)
        var order = Array(grid.indices)
        rng.shuffle(&order)
        return order.prefix(n).sorted().map { TunedValues(grid[$0]) }
    }
}

/// One point of a search space. Applying it is generic over keys: a key `TrainingSpec` has goes there, any other
/// goes into the `ModelConfig` (so a config key such as `dropout` is tunable the day the model reads it).
public struct TunedValues: Codable, Hashable, Sendable {
    public var values: [String: Double]

    public init(_ values: [String: Double]) { self.values = values }

    static let trainingKeys = ["learningRate", "l2"]

    /// Keys a space may name: the tunable training settings and every `ModelConfig` key but its kind.
    static var allowedKeys: [String] { trainingKeys + SpecDefaults.modelKeys.filter { $0 != "kind" } }

    public func apply(to config: ModelConfig) throws -> ModelConfig {
        let modelValues = values.filter { !Self.trainingKeys.contains($0.key) }
        if modelValues.isEmpty { return config }
        // Through JSON so a key needs no case here; a value the key's type cannot hold fails loudly.
        guard case .object(var object) = try JSONValue(encoding: config) else { return config }
        for (k, v) in modelValues { object[k] = .number(v) }
        do {
            return try JSONValue.object(object).decode(as: ModelConfig.self)
        } catch {
            throw ExperimentError("tuned values \(description) do not fit the model configuration: \(error)")
        }
    }

    public func apply(to training: TrainingSpec) -> TrainingSpec {
        var t = training
        if let v = values["learningRate"] { t.learningRate = v }
        if let v = values["l2"] { t.l2 = v }
        return t
    }

    public var description: String {
        values.keys.sorted().map { "\($0) \(formatValue(values[$0]!))" }.joined(separator: ", ")
    }
}

func formatValue(_ v: Double) -> String { String(format: "%g", v) }

/// profiles.yaml `tuning:` as written; every check names the key and its line.
struct TuningNode: Decodable {
    enum Key: String, CodingKey, CaseIterable {
        case seed, space, familySpace, trials, maxEpochs, models, inherit, perDataset, datasets, untuned
    }
    struct Untuned: Decodable {
        enum Key: String, CodingKey, CaseIterable { case models, datasets }
        var models, datasets: [Located]
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            models = try c.decode([Located].self, forKey: .models)
            datasets = try c.decode([Located].self, forKey: .datasets)
        }
    }
    struct Budget: Decodable {
        enum Key: String, CodingKey, CaseIterable { case trials, maxEpochs }
        var trials, maxEpochs: Int?
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            trials = try c.decodeIfPresent(Int.self, forKey: .trials)
            maxEpochs = try c.decodeIfPresent(Int.self, forKey: .maxEpochs)
            if let v = trials, v < 1 { throw c.invalid(.trials, "an integer ≥ 1", found: v) }
            if let v = maxEpochs, v < 1 { throw c.invalid(.maxEpochs, "an integer ≥ 1", found: v) }
        }
    }
    var spec: TuningSpec
    var inheritRefs: [Located] = []

    /// Every key of a space is tunable and every value passes the key's range check (errors name key and line).
    static func check(_ spaceMap: IdMap<[Double]>, _ spaceKeys: KeyedDecodingContainer<AnyKey>) throws {
        for (key, values) in spaceMap.entries {
            func bad(_ what: String) -> Error {
                DecodingError.dataCorruptedError(forKey: AnyKey(key), in: spaceKeys, debugDescription: what)
            }
            guard TunedValues.allowedKeys.contains(key) else {
                throw bad(
                    "unknown key '\(key)'\(didYouMean(key, TunedValues.allowedKeys)); expected a training setting (\(TunedValues.trainingKeys.joined(separator: ", "))) or a model configuration key"
                )
            }
            if values.isEmpty { throw bad("expected a non-empty list of numbers") }
            if Set(values).count != values.count {
                throw bad("expected distinct values, found \(values.map(formatValue))")
            }
            for v in values {
                switch key {
                case "learningRate" where !(v > 0 && v.isFinite):
                    throw bad("expected positive numbers, found \(formatValue(v))")
                case "l2" where !(v >= 0 && v.isFinite): throw bad("expected numbers ≥ 0, found \(formatValue(v))")
                default: break
                }
                // A model key must hold the value and pass the same range check as in models.yaml.
                let probe: ModelConfig
                do { probe = try TunedValues([key: v]).apply(to: ModelConfig(kind: .nextitnet)) } catch {
                    throw bad("\(formatValue(v)) is not a valid value of '\(key)'")
                }
                if let rule = ModelSettings.ranges.first(where: { $0.key == key }), let problem = rule.check(probe) {
                    throw bad("expected \(problem)")
                }
            }
        }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        let seed = try c.decode(UInt64.self, forKey: .seed)
        let spaceMap = try c.decode(IdMap<[Double]>.self, forKey: .space)
        let spaceKeys = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .space)
        if spaceMap.entries.isEmpty {
            throw c.invalid(.space, "at least one key with candidate values", found: "an empty mapping")
        }
        try Self.check(spaceMap, spaceKeys)
        var familySpace: [String: [(key: String, values: [Double])]] = [:]
        if c.contains(.familySpace) {
            let map = try c.decode(IdMap<IdMap<[Double]>>.self, forKey: .familySpace)
            let kinds = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .familySpace)
            for (kind, extra) in map.entries {
                guard let k = ModelConfig.Kind(rawValue: kind), k != .mostpop else {
                    throw DecodingError.dataCorruptedError(
                        forKey: AnyKey(kind), in: kinds,
                        debugDescription: "unknown model family '\(kind)'; expected nextitnet, gru4rec, caser or sasrec"
                    )
                }
                let keys = try kinds.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(kind))
                try Self.check(extra, keys)
                if let both = extra.entries.first(where: { e in spaceMap.entries.contains { $0.id == e.id } }) {
                    throw DecodingError.dataCorruptedError(
                        forKey: AnyKey(both.id), in: keys,
                        debugDescription:
                            "'\(both.id)' is already in tuning.space; a family adds keys, it does not replace them")
                }
                familySpace[kind] = extra.entries.map { ($0.id, $0.value) }
            }
        }
        let gridSize = spaceMap.entries.map(\.value.count).reduce(1, *)
        let trials = try c.decodeIfPresent(Int.self, forKey: .trials) ?? gridSize
        if !(1...gridSize).contains(trials) {
            throw c.invalid(.trials, "an integer in 1...\(gridSize) (the grid's size)", found: trials)
        }
        let maxEpochs = try c.decode(Int.self, forKey: .maxEpochs)
        if maxEpochs < 1 { throw c.invalid(.maxEpochs, "an integer ≥ 1", found: maxEpochs) }
        let models = try c.decode([Located].self, forKey: .models)
        if models.isEmpty { throw c.invalid(.models, "a non-empty list of models tuned on their own", found: "[]") }
        let own = models.map(\.value)
        if let twice = own.first(where: { m in own.filter { $0 == m }.count > 1 }) {
            throw c.invalid(.models, "each model once", found: "'\(twice)' twice")
        }
        var inherit: [String: String] = [:]
        if c.contains(.inherit) {
            let map = try c.decode(IdMap<Located>.self, forKey: .inherit)
            let keys = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .inherit)
            for (name, head) in map.entries {
                if own.contains(name) {
                    throw DecodingError.dataCorruptedError(
                        forKey: AnyKey(name), in: keys,
                        debugDescription:
                            "'\(name)' is tuned on its own (tuning.models); a model either tunes or inherits")
                }
                if !own.contains(head.value) {
                    throw head.location.error(
                        "'\(head.value)' is not tuned on its own; expected one of tuning.models (\(own.joined(separator: ", ")))"
                    )
                }
                inherit[name] = head.value
                inheritRefs.append(Located(value: name, location: head.location))
            }
        }
        var perDataset: [String: (trials: Int?, maxEpochs: Int?)] = [:]
        var datasetRefs: [Located] = []
        if c.contains(.perDataset) {
            let map = try c.decode(IdMap<Budget>.self, forKey: .perDataset)
            let keys = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .perDataset)
            for (name, b) in map.entries {
                if let t = b.trials, t > gridSize {
                    throw DecodingError.dataCorruptedError(
                        forKey: AnyKey(name), in: keys,
                        debugDescription: "trials: expected an integer in 1...\(gridSize) (the grid's size), found \(t)"
                    )
                }
                perDataset[name] = (b.trials, b.maxEpochs)
                let at = (try? keys.superDecoder(forKey: AnyKey(name)) as? SpecDecoder)?.location
                datasetRefs.append(
                    Located(
                        value: name,
                        location: at ?? SpecLocation(file: "profiles.yaml", line: nil, path: "tuning.perDataset")))
            }
        }
        let datasets = try c.decodeIfPresent([Located].self, forKey: .datasets)
        datasetRefs += datasets ?? []
        let untuned = try c.decodeIfPresent(Untuned.self, forKey: .untuned)
        for m in untuned?.models ?? [] where !own.contains(m.value) {
            throw m.location.error(
                "'\(m.value)' is not tuned on its own; expected one of tuning.models (\(own.joined(separator: ", ")))")
        }
        datasetRefs += untuned?.datasets ?? []
        spec = TuningSpec(
            seed: seed, space: spaceMap.entries.map { ($0.id, $0.value) }, familySpace: familySpace,
            trials: trials, maxEpochs: maxEpochs,
            models: own, inherit: inherit, perDataset: perDataset, datasets: datasets?.map(\.value),
            untunedModels: untuned?.models.map(\.value) ?? [], untunedDatasets: untuned?.datasets.map(\.value) ?? [],
            modelRefs: models + inheritRefs, datasetRefs: datasetRefs)
    }
}

extension Located {
    init(value: String, location: SpecLocation) {
        self.value = value
        self.location = location
    }
}
