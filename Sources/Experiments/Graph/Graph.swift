import Datasets
import Foundation
import Models
import Pipeline

/// Builds the stage graph of one profile from the specs: datasets → training runs → tables, figures, report.
struct GraphBuilder {
    let specs: SpecBundle
    let catalog: DatasetCatalog
    let profile: ProfileSpec
    let options: ExperimentOptions
    /// Which evaluate stages time inference (only those a table or claim reads).
    let timing: TimingPlan
    private(set) var stages: [any Stage] = []
    private var seen: Set<StageID> = []

    init(
        specs: SpecBundle, catalog: DatasetCatalog, profile: ProfileSpec, options: ExperimentOptions,
        timing: TimingPlan
    ) {
        self.specs = specs
        self.catalog = catalog
        self.profile = profile
        self.options = options
        self.timing = timing
    }

    mutating func add(_ stage: any Stage) {
        if seen.insert(stage.id).inserted { stages.append(stage) }
    }

    var paperValues: URL { specs.directory.appendingPathComponent("paper-values.yaml") }

    func label(_ name: String) throws -> DatasetLabel { DatasetLabel(name, try catalog.entry(name)) }

    /// fetch → prep → blocks for one dataset; returns the ids of prep and blocks.
    @discardableResult
    mutating func addDataset(_ name: String) throws -> (prep: StageID, blocks: StageID) {
        let entry = try catalog.entry(name)
        let fetch = FetchStage(dataset: entry.spec, source: options.sources[name], mirror: options.mirror)
        let prep = PrepStage(dataset: entry.spec, fetch: fetch.id)
        let blocks = BlocksStage(dataset: entry.spec, rule: entry.blocks, prep: prep.id)
        add(fetch)
        add(prep)
        add(blocks)
        return (prep.id, blocks.id)
    }

    /// `tune/<dataset>/<head>` for the tuned model whose choice `model` trains with, or nil when the profile does
    /// not tune it (then nothing about its stages changes).
    private mutating func tuneStage(dataset: String, model: String) throws -> StageID? {
        guard let tuning = profile.tuning, tuning.tunes(dataset), profile.datasets.contains(dataset),
            let head = tuning.head(of: model)
        else { return nil }
        let (prep, blocks) = try addDataset(dataset)
        let entry = try specs.model(head, profile: profile.on(dataset))
        let stage = TuneStage(
            dataset: dataset, model: entry, profile: profile.training, tuning: tuning, prep: prep, blocks: blocks)
        add(stage)
        return stage.id
    }

    /// The final train stage of one model and seed, taking its tuned values when the profile tunes it.
    private mutating func trainStage(
        dataset: String, model: ModelEntry, seed: UInt64, tuneAs: String? = nil,
        prep: StageID, blocks: StageID
    ) throws -> TrainStage {
        var stage = TrainStage(
            dataset: dataset, model: model, training: model.trainingSpec(profile.training, seed: seed),
            prep: prep, blocks: blocks)
        stage.tune = try tuneStage(dataset: dataset, model: tuneAs ?? model.name)
        return stage
    }

    /// train + evaluate of one model on one dataset for one seed; returns (train id, evaluate id). `tuneAs` names
    /// the model whose tuning a derived model (a Figure-1 point) follows.
    @discardableResult
    mutating func addRun(
        dataset: String, model: ModelEntry, seed: UInt64, tuneAs: String? = nil
    ) throws -> (train: StageID, evaluate: StageID) {
        let (prep, blocks) = try addDataset(dataset)
        // Inference speedup is timed against the model's reference (same seed) inside its own evaluate stage.
        var baseline: ModelEntry?
        let reference = specs.speedupReference(for: model.name)
        let timed = timing.times(model.name, on: dataset)
        if timed && model.name != reference {
            baseline = try specs.model(reference, profile: profile.on(dataset))
            if baseline!.config == model.config {
                baseline = nil
            } else if let b = baseline {
                add(try trainStage(dataset: dataset, model: b, seed: seed, prep: prep, blocks: blocks))
            }
        }
        let train = try trainStage(
            dataset: dataset, model: model, seed: seed, tuneAs: tuneAs, prep: prep, blocks: blocks)
        let evaluate = EvaluateStage(
            dataset: dataset, model: model, train: train.id, prep: prep, blocks: blocks,
            inferenceBatch: profile.inferenceBatch, threads: profile.training.threads,
            seed: seed, baseline: baseline, sampledNegatives: profile.sampledNegatives,
            timedRowsDeclared: profile.timedRows, timed: timed)
        add(train)
        add(evaluate)
        return (train.id, evaluate.id)
    }

    /// Every seed's train + evaluate of one model on one dataset; returns the evaluate ids in seed order.
    @discardableResult
    mutating func addRuns(dataset: String, model: ModelEntry, tuneAs: String? = nil) throws -> [StageID] {
        try profile.seeds(for: model.name).map {
            try addRun(dataset: dataset, model: model, seed: $0, tuneAs: tuneAs).evaluate
        }
    }

    // What the table and figure kinds read, set by `build` before it calls them.
    /// Every model a table, figure or role names, in first-named order.
    private(set) var modelNames: [String] = []
    /// The profile's datasets as tables print them.
    private(set) var mainLabels: [DatasetLabel] = []
    /// Datasets that run a subset of the models (`perDataset.<name>.models`).
    private(set) var restricted: [String: [String]] = [:]
    /// `oracle/<dataset>` of the profile's synthetic datasets.
    private(set) var oracles: [String: StageID] = [:]
    /// Every dataset the profile touches (its own, Figure 1's and Table 6's), with their prep and blocks stages.
    private(set) var allDatasets: [String] = []
    private(set) var datasetStages: [(prep: StageID, blocks: StageID)] = []
    /// Figure 1's points (their runs feed claims even when the figure is not drawn).
    private(set) var sweep: [Fig1Point] = []
    /// Table 6's fine-tuning stages.
    private(set) var finetunes: [StageID] = []

    mutating func build() throws {
        // Every model any table or figure names, on every dataset of the profile.
        for t in specs.tables {
            for r in t.rows + [t.reference, specs.roles.popularity] where !modelNames.contains(r) {
                modelNames.append(r)
            }
        }
        for m in specs.paretoModels + specs.convergenceModels + specs.roles.allModels where !modelNames.contains(m) {
            modelNames.append(m)
        }
        var evaluations: [StageID] = []
        for ds in profile.datasets {
            for m in modelNames where profile.runs(m, on: ds) {
                evaluations += try addRuns(dataset: ds, model: try specs.model(m, profile: profile.on(ds)))
            }
        }
        let untunedPairs = try untunedTwins()
        mainLabels = try profile.datasets.map(label)
        restricted = profile.perDataset.compactMapValues(\.models)
        oracles = try oracleStages(profile.datasets)
        allDatasets = profile.datasets
        if let f = profile.figure1, !allDatasets.contains(f.dataset) { allDatasets.append(f.dataset) }
        if let t = profile.transfer, !allDatasets.contains(t.dataset) { allDatasets.append(t.dataset) }
        datasetStages = try allDatasets.map { try addDataset($0) }
        sweep = try figure1Sweep()
        finetunes = try transferRuns()

        var tables: [String] = []
        for kind in Registry.tables { tables += try kind.add(to: &self) }
        var figures: [String] = []
        for kind in Registry.figures where profile.draws(kind.kindName) { figures += try kind.add(to: &self) }

        let syntheticNames = allDatasets.filter { name in
            if case .synthetic = (try? catalog.spec(name))?.source { return true }
            return false
        }
        var report = ReportStage(
            profile: profile, roles: specs.roles, split: try splitDescription(profile.datasets),
            paperDatasets: paperDatasets(allDatasets), datasets: mainLabels,
            synthetic: syntheticNames.count == allDatasets.count, tables: tables, figures: figures,
            evaluations: evaluations, finetunes: finetunes, dimSweep: sweep, paperValues: paperValues,
            oracles: oracles,
            companions: profile.companions.map {
                ReportStage.Companion(
                    profile: $0, summary: (try? specs.profile($0))?.summary ?? "",
                    directory: specs.directory.deletingLastPathComponent()
                        .appendingPathComponent("results").appendingPathComponent($0))
            }, syntheticDatasets: syntheticNames)
        report.tunes = stages.compactMap { $0 as? TuneStage }.map(\.id)
        report.untuned = untunedPairs
        add(report)
    }

    /// Untuned twins of tuned models (`tuning.untuned`): the same model under a name no tune stage claims.
    private mutating func untunedTwins() throws -> [UntunedPair] {
        guard let tuning = profile.tuning else { return [] }
        var pairs: [UntunedPair] = []
        for ds in tuning.untunedDatasets {
            for m in tuning.untunedModels where profile.runs(m, on: ds) {
                var twin = try specs.model(m, profile: profile.on(ds))
                twin.name = "\(m)-untuned"
                twin.label = "\(twin.label) (untuned)"
                // The twin takes the tuned model's own seeds (claim models have more), so every seed is paired.
                let seeds = profile.seeds(for: m)
                pairs.append(
                    UntunedPair(
                        dataset: ds, model: m, tuned: EvaluateStage.stageIDs(dataset: ds, model: m, seeds: seeds),
                        untuned: try seeds.map { try addRun(dataset: ds, model: twin, seed: $0).evaluate }))
            }
        }
        return pairs
    }

    /// Figure 1's runs: the model-size sweep on one dataset, over d and depth, plus further models over the d grid.
    private mutating func figure1Sweep() throws -> [Fig1Point] {
        guard let f = profile.figure1 else { return [] }
        var sweep: [Fig1Point] = []
        let base = try specs.model(specs.figure1Model, profile: profile)
        for d in f.dims {
            var m = base
            m.config.dim = d
            sweep.append(
                Fig1Point(
                    axis: "dim", value: d,
                    stages: try sweepRuns(
                        f.dataset, base: base, variant: m, suffix: "d\(d)",
                        claim: profile.claimSeeds?.dims.contains(d) == true)))
        }
        // Depth r = the model's own dilation pattern (the profile's `model.dilations`) repeated to r blocks.
        let pattern = base.config.dilations
        for depth in f.depths {
            var m = base
            m.config.dilations = (0..<depth).map { pattern[$0 % pattern.count] }
            sweep.append(
                Fig1Point(
                    axis: "depth", value: depth,
                    stages: try sweepRuns(
                        f.dataset, base: base, variant: m, suffix: "r\(depth)",
                        claim: profile.claimSeeds?.depths.contains(depth) == true)))
        }
        // Further models over the same d grid (e.g. CpRec beside NextItNet up to the paper's d = 512).
        for name in (f.models ?? []) where name != base.name {
            let other = try specs.model(name, profile: profile)
            for d in f.dims {
                var m = other
                m.config.dim = d
                // Explicit block widths belong to one d; at another d the block factor sets them.
                if d != other.config.dim { m.config.blockWidths = [] }
                sweep.append(
                    Fig1Point(
                        axis: "dim", value: d,
                        stages: try sweepRuns(
                            f.dataset, base: other, variant: m, suffix: "d\(d)",
                            claim: profile.claimSeeds?.dims.contains(d) == true),
                        model: name, label: other.label))
            }
        }
        return sweep
    }

    /// Table 6's runs: pre-train on the source sequences (a plain train stage), fine-tune on the target task, the
    /// same with the backbone frozen, and the same fine-tuning from a random backbone (what pre-training buys).
    private mutating func transferRuns() throws -> [StageID] {
        guard let t = profile.transfer else { return [] }
        var finetunes: [StageID] = []
        let entry = try catalog.entry(t.dataset)
        let (prep, blocks) = try addDataset(t.dataset)
        for m in t.models {
            let model = try specs.model(m, profile: profile)
            // The paper's row, a frozen-backbone row (when the paper's row fine-tunes), the random-init ablation.
            let rows = [(true, false)] + (t.freezeBackbone ? [] : [(true, true)]) + [(false, false)]
            for (pretrained, frozenRow) in rows {
                for seed in profile.claimSeeds?.seeds ?? profile.seeds {
                    let (train, _) = try addRun(dataset: t.dataset, model: model, seed: seed)
                    let stage = FinetuneStage(
                        dataset: DatasetLabel(t.dataset, entry), model: model, transfer: t,
                        training: model.trainingSpec(profile.training, seed: seed),
                        pretrained: pretrained, frozenRow: frozenRow, train: train, prep: prep, blocks: blocks)
                    add(stage)
                    finetunes.append(stage.id)
                }
            }
        }
        return finetunes
    }

    /// A Figure-1 point's runs (one per seed); reuses the table's runs when the point equals the profile's own model.
    /// `claim`: the point is one a claim compares (profiles.yaml `claimSeeds`), so it gets the claims' seeds.
    private mutating func sweepRuns(
        _ dataset: String, base: ModelEntry, variant: ModelEntry, suffix: String,
        claim: Bool
    ) throws -> [StageID] {
        let seeds = claim ? (profile.claimSeeds?.seeds ?? profile.seeds) : profile.seeds
        if variant.config == base.config && profile.datasets.contains(dataset) && seeds == profile.seeds(for: base.name)
        {
            return EvaluateStage.stageIDs(dataset: dataset, model: base.name, seeds: seeds)
        }
        var v = variant
        v.name = "\(base.name)-\(suffix)"
        v.label = "\(base.label) \(suffix)"
        return try seeds.map { try addRun(dataset: dataset, model: v, seed: $0, tuneAs: base.name).evaluate }
    }

    /// The profile's split in words, from each dataset's `prep` (e.g. "random 80/20 of fixed-length sequences …").
    private func splitDescription(_ names: [String]) throws -> String {
        let each = try names.map { name -> String in
            let p = try catalog.spec(name).prep
            func pct(_ x: Double) -> String { String(format: "%g", (x * 100).rounded()) }
            if p.effectiveSplit == .leaveOneOut {
                return
                    "leave-one-out per user (last item test, second-to-last validation, the rest training; every row is t = \(p.seqLength) items ending at its target)"
            }
            return
                "random \(pct(1 - p.testFraction))/\(pct(p.testFraction)) of fixed-length sequences (t = \(p.seqLength)), validation carved from training (validFraction \(p.validFraction))"
        }
        if Set(each).count <= 1 { return each.first ?? "none" }
        return zip(names, each).map { "\($0): \($1)" }.joined(separator: "; ")
    }

    /// The paper's datasets the profile's datasets stand in for (datasets.yaml `paperName`), in words.
    private func paperDatasets(_ names: [String]) -> String {
        var out: [String] = []
        for n in names { if let p = catalog.entries[n]?.paperName, !out.contains(p) { out.append(p) } }
        if out.count < 2 { return out.first ?? "the paper's own datasets" }
        return out.dropLast().joined(separator: ", ") + " and " + out.last!
    }

    /// `oracle/<dataset>` of every synthetic dataset among `names` (dataset name → stage id).
    mutating func oracleStages(_ names: [String]) throws -> [String: StageID] {
        var out: [String: StageID] = [:]
        for name in names {
            let entry = try catalog.entry(name)
            guard case .synthetic(let spec) = entry.spec.source else { continue }
            let (prep, _) = try addDataset(name)
            let stage = OracleStage(dataset: name, spec: spec, prep: prep)
            add(stage)
            out[name] = stage.id
        }
        return out
    }
}
