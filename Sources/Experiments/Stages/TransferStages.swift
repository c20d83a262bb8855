import Datasets
import Evaluation
import Foundation
import Kernels
import Models
import NeuralNet
import Pipeline
import Reports
import Training

/// `finetune/<dataset>/<model>[-scratch|-frozen]/seed<s>`: a new target-item layer on the pre-trained (or a random)
/// backbone, evaluated as PeterRec does (the true item against sampled negatives) and against every target item.
struct FinetuneStage: TypedParameters {
    static let fileName = "transfer.json"
    let dataset: DatasetLabel
    let model: ModelEntry
    let transfer: TransferSpec
    let training: TrainingSpec
    let pretrained: Bool
    /// The frozen-backbone row: the pre-trained backbone kept fixed, only the target layer trained.
    var frozenRow = false
    let train: StageID
    let prep: StageID
    let blocks: StageID
    var row: String { frozenRow ? "frozen" : (pretrained ? "pretrained" : "scratch") }
    var freezeBackbone: Bool { frozenRow || transfer.freezeBackbone }
    var id: StageID {
        StageID(
            "finetune/\(dataset.name)/\(model.name)\(pretrained ? (frozenRow ? "-frozen" : "") : "-scratch")/seed\(training.seed)"
        )
    }
    var version: Int { EngineRevision.stageVersion(4) }
    /// The random-init row's own training (nil for the pre-trained rows, and when the profile declares none).
    var scratch: ScratchTraining? { pretrained ? nil : transfer.scratch }
    struct Parameters: Encodable {
        var model: ModelConfig
        var label: String
        var pretrained: Bool
        var epochs: Int
        var negatives: Int
        var freezeBackbone: Bool
        var training: TrainingSpec
        /// Only when declared, so the key of a profile without `scratch:` is what it was.
        var scratch: ScratchTraining?
        var numerics: String
        var kindRevision: Int?
    }
    var typedParameters: Parameters {
        Parameters(
            model: model.config, label: model.label, pretrained: pretrained, epochs: transfer.epochs,
            negatives: transfer.negatives, freezeBackbone: freezeBackbone, training: training, scratch: scratch,
            numerics: model.config.numericsIdentity, kindRevision: model.config.kindRevisionInKey)
    }
    // The random-init ablation still reads the train stage: it needs the same architecture and its parameter count.
    var inputs: [StageID] { [train, prep, blocks] }
    var outputs: [String] { [Self.fileName] }
    var preferredThreads: Int? { training.threads }

    func run(_ context: StageContext) throws { try Kernels.withThreads(context.threads) { try compute(context) } }

    func compute(_ context: StageContext) throws {
        let inputs = try RunInputs(context, prep: prep, blocks: blocks)
        let data = inputs.data
        guard let target = data.transfer else {
            throw ExperimentError(
                "dataset \(dataset.name) has no target part: its format must be coldrec (source + target files)")
        }
        let trainDir = try context.inputDirectory(train)
        let config = try inputs.config(model)
        func freshBackbone() throws -> any HiddenRepresentation {
            guard
                let b = try ModelFactory.make(config, itemCount: data.itemCount, seed: training.seed)
                    as? any HiddenRepresentation
            else {
                throw ExperimentError(
                    "transfer needs a backbone with a hidden representation; \(model.name) is \(config.kind.rawValue)")
            }
            return b
        }
        var backbone = try freshBackbone()
        if pretrained {
            try Checkpoint.load(
                from: trainDir.appendingPathComponent(TrainStage.checkpointName), parameters: backbone.parameters)
        }
        var options = TransferOptions()
        options.epochs = transfer.epochs
        options.batchSize = training.batchSize
        options.learningRate = Float(training.learningRate)
        options.evalNegatives = transfer.negatives
        options.finetuneBackbone = !freezeBackbone
        options.seed = training.seed
        let pairs = (
            train: TransferPairs(rowsWithTarget: RunInputs.sequences(target.train)),
            valid: TransferPairs(rowsWithTarget: RunInputs.sequences(target.valid)),
            test: TransferPairs(rowsWithTarget: RunInputs.sequences(target.test))
        )
        context.progress("fine-tuning the target layer on \(target.train.rows) pairs")
        var result: TransferResult
        var chosenRate: Double?
        if let scratch {
            // Each rate from the same random weights; the choice looks at validation only, never at the test pairs.
            options.epochs = scratch.maxEpochs
            options.patience = scratch.patience
            var best: (rate: Double, score: Double, result: TransferResult, backbone: any HiddenRepresentation)?
            for rate in scratch.learningRates {
                let b = try freshBackbone()
                options.learningRate = Float(rate)
                let r = try Transfer.finetune(
                    backbone: b, targetItemCount: target.targetItemCount, train: pairs.train,
                    validation: pairs.valid, test: pairs.test, options: options)
                let score = r.history.first { $0.epoch == r.bestEpoch }?.validation?.mrr5 ?? -1
                context.log(
                    String(
                        format: "random init, learning rate %g: validation MRR@5 %.4f at epoch %d of %d", rate, score,
                        r.bestEpoch, r.history.count))
                if best == nil || score > best!.score { best = (rate, score, r, b) }
            }
            result = best!.result
            backbone = best!.backbone
            chosenRate = best!.rate
        } else {
            result = try Transfer.finetune(
                backbone: backbone, targetItemCount: target.targetItemCount, train: pairs.train,
                validation: pairs.valid, test: pairs.test, options: options)
        }
        for e in result.history {
            context.log(
                String(
                    format: "epoch %d loss %.4f valid MRR@5 %.4f %.1f s", e.epoch, e.loss, e.validation?.mrr5 ?? .nan,
                    e.seconds))
        }
        let p = backbone.parameters
        let out = TransferRecord(
            dataset: dataset.name, datasetLabel: dataset.label, model: model.name, label: model.label,
            pretrained: pretrained,
            mrr5: result.test.mrr5, hr5: result.test.hr5, negatives: transfer.negatives,
            testUsers: result.test.count, backboneFrozen: result.backboneFrozen, seed: training.seed,
            params: ParamCounts(input: p.count(in: .input), middle: p.count(in: .middle), output: p.count(in: .output)),
            row: row, fullMRR5: result.testFull.mrr5, fullHR5: result.testFull.hr5, ranks: result.testRanks,
            learningRate: chosenRate, bestEpoch: scratch == nil ? nil : result.bestEpoch,
            epochsRun: scratch == nil ? nil : result.history.count, epochCap: scratch?.maxEpochs)
        try JSONFiles.write(out, to: context.outputDirectory.appendingPathComponent(Self.fileName))
        if let t = context.inputMeasurement(train, Timing.secondsToBest) { context.record(Timing.secondsToBest, t) }
        context.record("finetuneSeconds", result.seconds)
    }
}

/// `table/table6`: NextItNet vs CpRec on the transfer task, with the random-init ablation (mean ± sd over seeds).
struct Table6Stage: TypedParameters {
    let finetunes: [StageID]
    let profile: String
    let paperValues: URL
    let seeds: Int
    /// How the transfer dataset was built, when a reader needs to know it (a synthetic pair designed so that
    /// pre-training pays); nil for user data.
    var datasetNote: String? = nil
    /// The paper's dataset the transfer pair stands for (datasets.yaml `paperName`): paper values are looked up by it.
    var paperDataset: String? = nil
    var id: StageID { StageID("table/\(Self.kindName)") }
    /// Presents training and inference times, which live in the inputs' manifests.
    var readsMeasurements: Bool { true }
    var version: Int { 4 }
    struct Parameters: Encodable {
        var profile: String
        var seeds: Int
        var datasetNote: String?
        var paperDataset: String?
    }
    var typedParameters: Parameters {
        Parameters(profile: profile, seeds: seeds, datasetNote: datasetNote, paperDataset: paperDataset)
    }
    var inputs: [StageID] { finetunes }
    var fileInputs: [URL] { [paperValues] }
    var outputs: [String] { tableFiles(Self.kindName) }
    var publishes: [String: String] { tablePublishes(Self.kindName) }

    /// What the trained random-init rows chose (learning rate on the target validation split, early-stopped epoch).
    static func scratchNote(_ records: [TransferRecord]) -> [String] {
        let rows = records.filter { $0.rowKind == "scratch" && $0.learningRate != nil }
        guard !rows.isEmpty else { return [] }
        var models: [String] = []
        for r in rows where !models.contains(r.label) { models.append(r.label) }
        let each = models.map { label -> String in
            let mine = rows.filter { $0.label == label }
            let seeds = mine.map { r in
                "seed \(r.seed): lr \(String(format: "%g", r.learningRate!)), epoch \(r.bestEpoch ?? 0) of \(r.epochsRun ?? 0)"
            }
            return "\(label) (\(seeds.joined(separator: "; ")))"
        }
        let capped = rows.filter { $0.epochsRun == $0.epochCap }.count
        let cap = rows.compactMap(\.epochCap).max() ?? 0
        return [
            "Random init is trained in its own right: early stopping on the target validation split under a cap of \(cap) epochs "
                + (capped == 0
                    ? "that no run reached"
                    : "that \(capped) of \(rows.count) runs reached (still improving: the cap is too small)")
                + ", and its learning rate chosen on that split. Chosen learning rate and kept epoch: \(each.joined(separator: "; "))."
        ]
    }

    /// Finetune records grouped by (dataset, model, pretrained) in first-seen order, seeds in order.
    static func grouped(_ records: [(StageID, TransferRecord)]) -> [[(StageID, TransferRecord)]] {
        var order: [String] = []
        var groups: [String: [(StageID, TransferRecord)]] = [:]
        for (id, r) in records {
            let key = "\(r.dataset)/\(r.model)/\(r.rowKind)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((id, r))
        }
        return order.map { groups[$0]! }
    }

    func run(_ context: StageContext) throws {
        let paper = try PaperValues.load(paperValues)
        var table = Table(
            title: "Table 6: CpRec vs NextItNet on the transfer learning task",
            caption:
                "MRR@5 and HR@5 after fine-tuning: the true item ranked against sampled negatives (PeterRec's protocol) and against every target item (full); Params and TT of the pre-trained model.",
            columns: [
                .label("Model"), .label("Backbone"), Column(Metric.mrr5.rawValue, paper: true, spread: true),
                Column(Metric.hr5.rawValue, paper: true, spread: true),
                Column(Metric.mrr5.rawValue, unit: "full", spread: true),
                Column(Metric.hr5.rawValue, unit: "full", spread: true),
                Column("Params", format: .count, paper: true),
                Column("TT", unit: "min", format: .decimal(2), paper: true, spread: true)
            ],
            groupTitle: "Dataset", provenance: RunFacts.provenance(profile: profile))
        var lastDataset = ""
        var mainFrozen = true
        var negatives = 0, testUsers = 0
        let records = try finetunes.map { id in
            (
                id,
                try JSONFiles.read(
                    TransferRecord.self,
                    from: try context.inputDirectory(id).appendingPathComponent(FinetuneStage.fileName))
            )
        }
        for group in Self.grouped(records) {
            let r = group[0].1
            if r.rowKind == "pretrained" { mainFrozen = mainFrozen && group.allSatisfy { $0.1.backboneFrozen } }
            negatives = r.negatives
            testUsers = r.testUsers
            if r.dataset != lastDataset {
                table.addGroup(r.datasetLabel)
                lastDataset = r.dataset
            }
            func pv(_ column: TableColumn) -> Double? {
                paperDataset.flatMap {
                    paper.value(table: Self.kindName, paperDataset: $0, model: r.model, column: column)
                }
            }
            let mrr = SampleSummary(group.map { $0.1.mrr5 }), hr = SampleSummary(group.map { $0.1.hr5 })
            let fullMRR = SampleSummary(group.compactMap { $0.1.fullMRR5 }),
                fullHR = SampleSummary(group.compactMap { $0.1.fullHR5 })
            let tt = SampleSummary(
                group.compactMap { context.inputMeasurement($0.0, Timing.secondsToBest).map { $0 / 60 } })
            func sd(_ s: SampleSummary) -> Double? { s.n > 1 ? s.sd : nil }
            func cell(_ s: SampleSummary) -> Cell { s.n > 0 ? .number(s.mean, paper: nil, std: sd(s)) : .missing() }
            let paperRow = r.rowKind == "pretrained"
            let backbone: String
            switch r.rowKind {
            case "frozen": backbone = "pre-trained, frozen"
            case "scratch": backbone = "random init (ablation)"
            default: backbone = r.backboneFrozen ? "pre-trained, frozen" : "pre-trained, fine-tuned"
            }
            table.addRow([
                .text(r.label), .text(backbone),
                .number(mrr.mean, paper: paperRow ? pv(.metric(.mrr5)) : nil, std: sd(mrr)),
                .number(hr.mean, paper: paperRow ? pv(.metric(.hr5)) : nil, std: sd(hr)),
                cell(fullMRR), cell(fullHR),
                .number(Double(r.params.total), paper: nil),
                r.pretrained && tt.n > 0 ? .number(tt.mean, paper: nil, std: sd(tt)) : .missing()
            ])
        }
        table.notes =
            [
                "Paper values: not retrievable (n/a).",
                "Mean ± standard deviation over \(seeds) seed\(seeds == 1 ? "" : "s") (pre-training and fine-tuning seeds move together); \(testUsers) test users.",
                "Fine-tuning: a target-item layer on the backbone's last hidden vector, sigmoid cross-entropy with one sampled negative; the paper's row \(mainFrozen ? "keeps the backbone frozen" : "fine-tunes the backbone with the layer"). Frozen: the pre-trained backbone fixed, only the new layer trained.",
                "Sampled: the true item against \(negatives) sampled target items (PeterRec); full: against every target item. A tied item counts ahead of the true one.",
                "Random init: the same fine-tuning from an untrained backbone, to show what pre-training buys (not in the paper)."
            ]
            + (datasetNote.map { [$0] } ?? [])
            + Self.scratchNote(records.map(\.1))
        try table.write(to: context.outputDirectory, name: Self.kindName)
    }
}

extension Table6Stage: GraphOutput {
    static let kindName = "table6"
    static let profileKey: String? = "transfer"
    static func declared(in profile: ProfileSpec) -> Bool { profile.transfer != nil }
    static func add(to graph: inout GraphBuilder) throws -> [String] {
        guard let t = graph.profile.transfer else { return [] }
        let entry = try graph.catalog.entry(t.dataset)
        var note: String?
        if case .synthetic(let g) = entry.spec.source, g.targetItems > 0 {
            note =
                "\(entry.label) is synthetic and was built so that pre-training must pay: \(g.users) users' source histories pre-train the backbone, but only \(g.targetUsers > 0 ? g.targetUsers : g.users) users have a target, which follows the user's dominant interest cluster (\(g.clusters) clusters, \(g.targetsPerCluster) preferred target items each) that only the source behaviour reveals. Table 6 therefore tests whether each model can carry that signal over, not whether pre-training pays on real data."
        }
        let profile = graph.profile
        graph.add(
            Table6Stage(
                finetunes: graph.finetunes, profile: profile.name, paperValues: graph.paperValues,
                seeds: (profile.claimSeeds?.seeds ?? profile.seeds).count, datasetNote: note,
                paperDataset: entry.paperName))
        return [kindName]
    }
}
