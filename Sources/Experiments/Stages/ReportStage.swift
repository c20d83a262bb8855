import Foundation
import Pipeline
import Reports

/// `report/report`: REPORT.md (claims, paper vs ours, environment, caveats), claims.{md,csv} and numbers.tex.
struct ReportStage: TypedParameters {
    /// What each figure shows and how to read it, under the image in REPORT.md.
    static let figureCaptions: [String: String] = [
        "longtail":
            "Interactions per item by popularity rank (log-log), one panel per dataset models are compared on; dashed lines: CpRec's frequency-block boundaries.",
        "fig1":
            "Accuracy against width d and depth (mean ± sd over seeds; point labels: parameters). CpRec-Cb is swept over d where the profile asks for it.",
        "pareto":
            "Parameters against MRR@5 of every trained model, one colour and marker per family; the black line is the Pareto front over all families, and only its points are labelled. Models of equal size within 2 % of a panel's MRR@5 span share one marker and a joined label.",
        "convergence":
            "Validation MRR@5 per epoch: mean over seeds with a ± sd band, a dot at the epoch each seed kept. Bottom row: the same curves against epoch × the run's measured mean epoch time (wall clock with another stage on the other core, so only coarse).",
        "scalemap":
            "Top-5 generation time of untrained CpRec against NextItNet over vocabulary K and width d, every tail block scored (no pruning: untrained heads would make it optimistic), and compression."
    ]

    let profile: ProfileSpec
    /// Which models the claims and the headline compare (experiments.yaml `roles:`).
    let roles: Roles
    /// How the profile's datasets are split, in words ("random 80/20 …"), from their prep settings.
    let split: String
    /// The paper's datasets this profile's stand in for, in words (from datasets.yaml `paperName`).
    let paperDatasets: String
    let datasets: [DatasetLabel]
    let synthetic: Bool
    let tables: [String]
    let figures: [String]
    let evaluations: [StageID]
    let finetunes: [StageID]
    /// Figure 1's points (every axis): the scaling claims and runs.csv read them.
    let dimSweep: [Fig1Point]
    let paperValues: URL
    /// dataset name → `oracle/<dataset>` (synthetic datasets only).
    let oracles: [String: StageID]
    /// Committed results of other profiles shown in their own section (profiles.yaml `companions`).
    var companions: [Companion] = []
    /// The datasets whose source is the embedded generator (claims.yaml groups split synthetic from real).
    var syntheticDatasets: [String] = []
    /// `tune/…` stages of the profile (empty without a `tuning:` section, leaving this stage's key as it was).
    var tunes: [StageID] = []
    /// Tuned models and their untuned twins (`tuning.untuned`), for the report's tuning gain.
    var untuned: [UntunedPair] = []
    var id: StageID { "report/report" }

    /// Another profile's committed results: `results/<profile>/` as `pipeline all --profile P --out` wrote it.
    struct Companion: Codable, Hashable {
        var profile: String
        var summary: String
        var directory: URL
        static let files = ["paper-tables/headline.md", "paper-tables/claims.md"]
        var paths: [URL] { Self.files.map { directory.appendingPathComponent($0) } }
        var present: Bool { paths.allSatisfy { FileManager.default.fileExists(atPath: $0.path) } }
        /// Its claim pairs, which join this profile's claims (the verdict grid judges every profile's datasets).
        var pairsFile: URL { directory.appendingPathComponent("paper-tables/claim-pairs.csv") }
        var hasPairs: Bool { present && FileManager.default.fileExists(atPath: pairsFile.path) }

        /// Its pairs, minus any on a dataset this profile measures itself (counted once).
        func pairs(excluding own: Set<String>) throws -> [ClaimPair] {
            guard hasPairs else { return [] }
            let text = try String(contentsOf: pairsFile, encoding: .utf8)
            return try ClaimReport.pairs(fromCSV: text, file: pairsFile.path, profile: profile).filter {
                !own.contains($0.dataset)
            }
        }
    }
    /// Presents training and inference times, which live in the inputs' manifests.
    var readsMeasurements: Bool { true }
    // 8: the environment names the model stages' threads, not the report stage's own, and its training time counts
    // every evaluated run. 9: the headline's seed count is its rows' (5 for the claims' pairs), not the profile's.
    var version: Int { 9 }
    struct Parameters: Encodable {
        var profile: String
        var datasets: [DatasetLabel]
        var tables: [String]
        var figures: [String]
        var synthetic: Bool
        var sweep: [Fig1Point]
        var training: TrainingSpec
        var seeds: [UInt64]
        var roles: Roles
        var split: String
        var paperDatasets: String
        var companions: [String]
        var syntheticDatasets: [String]
    }
    var typedParameters: Parameters {
        Parameters(
            profile: profile.name, datasets: datasets, tables: tables, figures: figures, synthetic: synthetic,
            sweep: dimSweep, training: profile.training, seeds: profile.seeds, roles: roles, split: split,
            paperDatasets: paperDatasets,
            companions: companions.map { "\($0.profile)\($0.present ? "" : " (absent)")" },
            syntheticDatasets: syntheticDatasets)
    }
    var inputs: [StageID] {
        var ids =
            evaluations + finetunes + tables.map { StageID("table/\($0)") } + figures.map { StageID("figure/\($0)") }
        for p in dimSweep { for s in p.stages where !ids.contains(s) { ids.append(s) } }
        for d in datasets { if let o = oracles[d.name] { ids.append(o) } }
        var extra: [StageID] = []
        for p in untuned {
            for s in p.tuned + p.untuned where !ids.contains(s) && !extra.contains(s) { extra.append(s) }
        }
        return ids + tunes + extra
    }
    /// pipeline/verdicts.yaml: the last committed verdicts, beside paper-values.yaml.
    var verdictHistory: URL { paperValues.deletingLastPathComponent().appendingPathComponent("verdicts.yaml") }
    /// pipeline/claims.yaml (every claim and the rule set) and pipeline/deviations.yaml, beside paper-values.yaml.
    var claimsSpec: URL { paperValues.deletingLastPathComponent().appendingPathComponent("claims.yaml") }
    var deviationsSpec: URL { paperValues.deletingLastPathComponent().appendingPathComponent("deviations.yaml") }
    var fileInputs: [URL] {
        [paperValues, claimsSpec]
            + [verdictHistory, deviationsSpec].filter { FileManager.default.fileExists(atPath: $0.path) }
            + companions.filter(\.present).flatMap(\.paths) + companions.filter(\.hasPairs).map(\.pairsFile)
    }
    var outputs: [String] {
        [
            "REPORT.md", "claims.md", "claims.csv", "claim-grid.csv", "claim-pairs.csv", "numbers.tex", "headline.md",
            "headline.tex", "headline.csv",
            "runs.csv", "runs.json"
        ]
    }
    var publishes: [String: String] {
        [
            "REPORT.md": "REPORT.md", "claims.md": "paper-tables/claims.md", "claims.csv": "paper-tables/claims.csv",
            "claim-grid.csv": "paper-tables/claim-grid.csv", "claim-pairs.csv": "paper-tables/claim-pairs.csv",
            "runs.csv": "paper-tables/runs.csv", "runs.json": "paper-tables/runs.json",
            "numbers.tex": "paper-tables/numbers.tex", "headline.md": "paper-tables/headline.md",
            "headline.tex": "paper-tables/headline.tex", "headline.csv": "paper-tables/headline.csv"
        ]
    }

    /// The baseline against each CpRec variant per dataset: the paper's headline in one small table (README shows it).
    func headline(_ results: ResultSet) -> Table {
        let b = results.baseline
        var table = Table(
            title: "Headline: CpRec vs \(b) (profile \(profile.name))",
            caption:
                "MRR@5 and HR@5 on the test split, whole-model parameters, compression and top-5 inference speedup over \(b) (at test batch 1, the paper's latency setting, and batch 128).",
            columns: [
                .label("Model"), Column(Metric.mrr5.rawValue, spread: true), Column(Metric.hr5.rawValue, spread: true),
                Column("Params", format: .count),
                Column("Compression", format: .times(1)),
                Column("Speedup", unit: "batch 1", format: .times(2), spread: true),
                Column("Speedup", unit: "batch 128", format: .times(2), spread: true)
            ],
            groupTitle: "Dataset", provenance: RunFacts.provenance(profile: profile.name))
        var seedCounts: [(label: String, seeds: Int)] = []
        for ds in results.datasets {
            guard let base = results.record(ds.name, roles.baseline) else { continue }
            table.addGroup(ds.label)
            for m in [roles.baseline] + roles.cprec {
                guard let r = results.record(ds.name, m) else { continue }
                seedCounts.append((r.label, r.seeds.count))
                table.addRow([
                    .text(r.label + (results.learned(ds.name, m) ? "" : " †")),
                    ResultColumns.cell(.metric(.mrr5), record: r, paper: nil),
                    ResultColumns.cell(.metric(.hr5), record: r, paper: nil),
                    .number(Double(r.params.total)), .number(Double(base.params.total) / Double(r.params.total)),
                    ResultColumns.cell(.speedupBatch1, record: r, paper: nil),
                    ResultColumns.cell(.speedup, record: r, paper: nil)
                ])
            }
        }
        table.notes = [
            "Mean ± standard deviation over \(ResultColumns.seedPhrase(seedCounts, default: profile.seeds.count)); ties count against the target; † did not learn."
        ]
        return table
    }

    func gather(_ context: StageContext) throws -> ResultSet {
        var results = ResultSet(roles: roles)
        results.profile = profile.name
        results.datasets = datasets.map { ($0.name, $0.label) }
        results.runs = try evaluations.map { try EvaluateStage.load(context, $0) }
        var runs: [String: [String: [EvaluationRecord]]] = [:]
        for r in results.runs { runs[r.dataset, default: [:]][r.model, default: []].append(r) }
        for (ds, models) in runs {
            for (m, list) in models {
                results.evaluations[ds, default: [:]][m] = EvaluationRecord.merging(
                    list.sorted { $0.seeds.first ?? 0 < $1.seeds.first ?? 0 })
            }
        }
        for ds in datasets {
            let items = results.evaluations[ds.name]?.values.compactMap(\.items).max() ?? 0
            results.facts[ds.name] = DatasetFacts(synthetic: syntheticDatasets.contains(ds.name), items: items)
        }
        for (id, run) in zip(evaluations, results.runs) {
            results.rowRanks[ResultSet.rankKey(run.dataset, run.model, run.seeds.first ?? 0)] = try EvaluateStage.ranks(
                context, id)
        }
        for p in dimSweep {
            let runs = try p.stages.map { try EvaluateStage.load(context, $0) }
            guard let first = runs.first else { continue }
            for (id, run) in zip(p.stages, runs) {
                results.rowRanks[ResultSet.rankKey(run.dataset, run.model, run.seeds.first ?? 0)] =
                    try EvaluateStage.ranks(context, id)
                if !results.sweepRuns.contains(where: {
                    $0.model == run.model && $0.dataset == run.dataset && $0.seeds == run.seeds
                }) {
                    results.sweepRuns.append(run)
                }
            }
            // A sweep variant is named `<model>-d64` / `<model>-r4`; the point equal to the profile's own model reuses
            // its run.
            let suffix = "-\(p.axis == "dim" ? "d" : "r")\(p.value)"
            let model = first.model.hasSuffix(suffix) ? String(first.model.dropLast(suffix.count)) : first.model
            results.sweep.append(
                SweepRecord(
                    axis: p.axis, value: p.value, model: model,
                    record: EvaluationRecord.merging(runs.sorted { $0.seeds.first ?? 0 < $1.seeds.first ?? 0 })))
            if results.facts[first.dataset] == nil {
                results.facts[first.dataset] = DatasetFacts(
                    synthetic: syntheticDatasets.contains(first.dataset), items: first.items ?? 0)
            }
        }
        for id in finetunes {
            results.transfer.append(
                try JSONFiles.read(
                    TransferRecord.self,
                    from: try context.inputDirectory(id).appendingPathComponent(FinetuneStage.fileName)))
        }
        // The transfer dataset's group: no evaluation records its K, and its source vocabulary is small (< 20K).
        for t in results.transfer where results.facts[t.dataset] == nil {
            results.facts[t.dataset] = DatasetFacts(synthetic: syntheticDatasets.contains(t.dataset), items: 0)
        }
        return results
    }

    func run(_ context: StageContext) throws {
        let paper = try PaperValues.load(paperValues)
        let results = try gather(context)
        let claimSpec = try ClaimSpecFile.load(claimsSpec)
        let own = Set(datasets.map(\.name))
        let outcomes = ClaimEngine.judge(
            claimSpec, results, joining: try companions.flatMap { try $0.pairs(excluding: own) })
        let claims = ClaimReport.claims(outcomes, spec: claimSpec, profile: profile.name)
        let provenance = RunFacts.provenance(profile: profile.name)
        try ClaimsReport.write(claims, to: context.outputDirectory, name: "claims", provenance: provenance)
        try AtomicFile.write(
            ClaimReport.gridCSV(outcomes, spec: claimSpec),
            to: context.outputDirectory.appendingPathComponent("claim-grid.csv"))
        try AtomicFile.write(
            ClaimReport.pairsCSV(outcomes), to: context.outputDirectory.appendingPathComponent("claim-pairs.csv"))
        let headlineTable = headline(results)
        try headlineTable.write(to: context.outputDirectory, name: "headline")
        try writeRuns(
            results.runs
                + results.sweepRuns.filter { s in
                    !results.runs.contains { $0.model == s.model && $0.dataset == s.dataset && $0.seeds == s.seeds }
                }
                + results.transfer.map(Self.transferRun), to: context.outputDirectory)

        var doc = MarkdownDocument()
        doc.heading("Reproduction report: CpRec (SIGIR 2020)", level: 1)
        doc.paragraph(
            """
            An independent reimplementation (a replication, not a re-run of the authors' code) of *A Generic Network \
            Compression Framework for Sequential Recommender Systems* (Sun et al., SIGIR 2020, arXiv 2004.13139), \
            generated by `pipeline run report` from cached results of profile **\(profile.name)**. \
            \(ClaimsReport.summary(claims))
            """)
        if synthetic {
            doc.paragraph(
                """
                **Data caveat.** This profile runs on the embedded synthetic datasets (seeded generators shaped like \
                the paper's datasets: long-tailed popularity and planted item-to-item transitions). Numbers show \
                whether the paper's *relations* hold under controlled conditions; they are not comparable in value \
                with the paper's, which were measured on \(paperDatasets).
                """)
        }

        doc.table(headlineTable)

        doc.heading("Claims of the paper")
        doc.paragraph(ClaimReport.rulesText(claimSpec))
        doc.table(ClaimReport.grid(outcomes, spec: claimSpec, provenance: Provenance()))
        doc.table(ClaimsReport.table(claims))
        doc.table(ClaimReport.pairs(outcomes, spec: claimSpec, provenance: Provenance()))
        if FileManager.default.fileExists(atPath: verdictHistory.path),
            let history = try VerdictHistory.load(verdictHistory).table(claims, profile: profile.name)
        {
            doc.table(history)
        }

        for c in companions {
            doc.heading("Profile \(c.profile): \(c.summary)")
            let out = "results/\(c.profile)"
            if c.present {
                doc.paragraph(
                    "Committed results of profile `\(c.profile)` (regenerated with `pipeline all --profile \(c.profile) --out \(out)`; its own full report, tables and figures: [`\(out)/REPORT.md`](\(out)/REPORT.md)). Its headline and claim verdicts, as that run wrote them (its provenance lines name its commit):"
                )
                for path in c.paths { doc.raw(try String(contentsOf: path, encoding: .utf8)) }
            } else {
                doc.paragraph(
                    "Not run yet: `pipeline all --profile \(c.profile) --out \(out)` writes `\(out)/`, and the next `pipeline run report` shows it here."
                )
            }
        }

        doc.heading("Paper vs ours")
        var comparisons: [PaperComparison] = []
        for v in paper.values {
            for ds in datasets where ds.paperName == v.dataset {
                guard let r = results.record(ds.name, v.model) else { continue }
                let cell = ResultColumns.cell(v.column, record: r, paper: nil)
                guard case .number(let ours, _) = cell.value else { continue }
                var c = PaperComparison(
                    table: v.table, row: "\(ds.label) \(r.label)", metric: v.column.rawValue,
                    ours: ours, paper: v.value, format: v.column.isCount ? .count : .decimal(4))
                // A difference between the paper's real data and our synthetic stand-in measures nothing.
                c.comparable = !syntheticDatasets.contains(ds.name)
                comparisons.append(c)
            }
        }
        if comparisons.isEmpty {
            doc.paragraph(
                "The paper's body could not be retrieved; no cell of its tables is known for the datasets of this profile."
            )
        } else {
            doc.table(PaperComparison.table(comparisons))
            doc.paragraph(
                "Only \(paper.values.count) numbers of the paper could be recovered (\(paper.provenance(label: results.label))); every other paper cell prints n/a. Ours are on the dataset named in each row; where that dataset is a synthetic stand-in for the paper's, no difference is printed (the two are not the same data)."
            )
        }

        if FileManager.default.fileExists(atPath: deviationsSpec.path) {
            doc.heading("Deviations from the authors")
            doc.table(try Deviations.load(deviationsSpec).table())
        }
        doc.heading("Compute")
        doc.table(computeTable(context))

        doc.heading("Tables")
        for t in tables {
            let md = try String(
                contentsOf: try context.inputDirectory(StageID("table/\(t)")).appendingPathComponent("\(t).md"),
                encoding: .utf8)
            doc.raw(md)
            doc.paragraph(
                "LaTeX and CSV: `paper-tables/\(t).tex`, `paper-tables/\(t).csv`. Regenerate: `pipeline run table/\(t)`."
            )
        }

        if let fast = FastTopNTable.table(results, provenance: provenance) {
            doc.table(fast)
        }

        doc.heading("Figures")
        for f in figures {
            doc.image("figures/\(f).png", alt: f)
            doc.paragraph(
                (Self.figureCaptions[f].map { "\($0) " } ?? "")
                    + "`figures/\(f).svg`, data `figures/\(f).dat`, script `figures/\(f).gp`. Regenerate: `pipeline run figure/\(f)`."
            )
        }

        if let tuning = profile.tuning, !tunes.isEmpty {
            let records = try tunes.map { try TuneStage.load(try context.inputDirectory($0)) }
            let gains = try untuned.map { p in
                (p, try EvaluateStage.load(context, p.tuned), try EvaluateStage.load(context, p.untuned))
            }
            TuningReport.section(&doc, tuning: tuning, records: records, roles: roles, datasets: datasets, gains: gains)
        }

        doc.heading("Protocol")
        let t = profile.training
        doc.bullets([
            "Split: \(split); seed recorded in each prep manifest.",
            "Training: Adam, learning rate \(t.learningRate), batch \(t.batchSize), at least \(t.minEpochs) and at most \(t.maxEpochs) epochs, patience \(t.patience), L2 \(t.l2); seeds \(profile.seeds.map(String.init).joined(separator: ", ")). Per-model overrides (pipeline/models.yaml `training:`) are listed in the model catalogue's comments.",
            "Epoch selection: **\(t.selection.rawValue)** (\(t.selection == .paper ? "best epoch on the test set, as the authors' released code does" : "best validation MRR@5; the authors' code selects on the test set")). Every table of this report uses it.",
            "Evaluation: the last item of each test sequence, ranked against all items (padding excluded); MRR, HR and NDCG at 5 and 20. A tied item counts ahead of the target (rank = 1 + the number of other items scoring ≥ the target's score), and a NaN score ranks last.",
            "Inference speedup: time to generate the top-5 list for all test sequences, the table's reference model (\(results.baseline) unless a table names another; full softmax) / the model (fast top-N path for block-wise softmax), same batch size and threads."
        ])

        doc.heading("Environment")
        doc.keyValues(
            RunFacts.environment + [
                ("profile", profile.name), ("threads of each model stage", modelStageThreads(context))
            ] + stageTimes(context), header: ("", ""))

        try doc.write(to: context.outputDirectory.appendingPathComponent("REPORT.md"))

        var macros = LaTeXMacros(prefix: "cprec")
        for ds in datasets {
            for (model, r) in (results.evaluations[ds.name] ?? [:]).sorted(by: { $0.key < $1.key }) {
                for metric in Metric.allCases {
                    if let v = r.metric(metric) {
                        _ = macros.add("\(ds.name) \(model) \(metric.rawValue)", v, format: .decimal(4))
                    }
                }
                _ = macros.add("\(ds.name) \(model) params", Double(r.params.total), format: .count)
                _ = macros.add("\(ds.name) \(model) TT", r.secondsToBest / 60, format: .decimal(2))
            }
        }
        for r in results.transfer {
            _ = macros.add("\(r.dataset) \(r.model) \(r.rowKind) MRR@5", r.mrr5, format: .decimal(4))
            _ = macros.add("\(r.dataset) \(r.model) \(r.rowKind) HR@5", r.hr5, format: .decimal(4))
        }
        try macros.write(to: context.outputDirectory.appendingPathComponent("numbers.tex"))
    }

    /// A Table 6 row as a run of runs.csv / runs.json: model `<model>/<row>` (pretrained, frozen, scratch), the
    /// sampled MRR@5 / HR@5 and the full-ranking ones as `MRR@5(full)` / `HR@5(full)`.
    static func transferRun(_ t: TransferRecord) -> EvaluationRecord {
        var metrics = ["MRR@5": t.mrr5, "HR@5": t.hr5]
        if let m = t.fullMRR5 { metrics["MRR@5(full)"] = m }
        if let h = t.fullHR5 { metrics["HR@5(full)"] = h }
        var r = EvaluationRecord(
            dataset: t.dataset, model: "\(t.model)/\(t.rowKind)", label: "\(t.label) (\(t.rowKind))", metrics: metrics,
            params: t.params, secondsToBest: 0, secondsTotal: 0, bestEpoch: 0, epochsTrained: 0,
            selection: "validation", inferenceFullSeconds: 0, inferenceFastSeconds: 0, speedup: nil,
            testSequences: t.testUsers, inferenceBatch: 0, threads: 0)
        r.seeds = [t.seed]
        return r
    }

    /// Every seed's values of every evaluation (tables show mean ± sd; this keeps what they summarise).
    private func writeRuns(_ runs: [EvaluationRecord], to directory: URL) throws {
        // Table 6's rows (model `<model>/<row>`) add their full-ranking metrics in the last two columns.
        var lines = [
            "dataset,model,seed," + Metric.allCases.map(\.rawValue).joined(separator: ",")
                + ",params,seconds_to_best,speedup,MRR@5(full),HR@5(full)"
        ]
        for r in runs {
            let id: [String] = [r.dataset, r.model, "\(r.seeds.first ?? 0)"]
            let metrics: [String] = Metric.allCases.map { r.metric($0).map { String($0) } ?? "" }
            let facts: [String] = ["\(r.params.total)", String(r.secondsToBest), r.speedup.map { String($0) } ?? ""]
            let full: [String] = ["MRR@5(full)", "HR@5(full)"].map { r.metrics[$0].map { String($0) } ?? "" }
            let cells = id + metrics + facts + full
            lines.append(cells.map(Escape.csv).joined(separator: ","))
        }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: directory.appendingPathComponent("runs.csv"))
        try JSONFiles.write(runs, to: directory.appendingPathComponent("runs.json"))
    }

    /// Wall time and core-minutes behind each table and figure: the train and evaluate stages its rows read
    /// (a run shared by two tables counts in both), from the manifests of this report's inputs.
    func computeTable(_ context: StageContext) -> Table {
        var t = Table(
            title: "Compute",
            caption:
                "Wall time and core-minutes (wall time × threads) of the training and evaluation runs behind each table and figure, from the stage manifests; a run that two tables share counts in both. Whole profile: the sum over stage kinds in the environment section.",
            columns: [
                .label("Output"), Column("Runs", format: .count), Column("Wall", unit: "min", format: .decimal(1)),
                Column("Core-minutes", format: .decimal(1))
            ])
        for output in tables.map({ "table/\($0)" }) + figures.map({ "figure/\($0)" }) {
            guard let m = context.inputManifest(StageID(output)) else { continue }
            var runs = 0, wall = 0.0, core = 0.0
            for input in m.material.inputs where input.id.kind == "evaluate" || input.id.kind == "finetune" {
                guard let e = context.inputManifest(input.id) else { continue }
                let threads = Double(max(1, e.threads))
                let train = (e.measurements?[Timing.secondsTotal] ?? 0)
                runs += 1
                wall += e.seconds + train
                core += (e.seconds + train) * threads
            }
            t.addRow([.text(output), .number(Double(runs)), .number(wall / 60), .number(core / 60)])
        }
        return t
    }

    /// The threads the model stages behind this report ran with, from their manifests ("1", or "1, 2" when mixed).
    /// The report's own thread count said nothing about them and changed with `-j`.
    func modelStageThreads(_ context: StageContext) -> String {
        let kinds: Set<String> = ["evaluate", "tune", "finetune"]
        let used = Set(inputs.filter { kinds.contains($0.kind) }.compactMap { context.inputManifest($0)?.threads })
        return used.isEmpty ? "none recorded" : used.sorted().map(String.init).joined(separator: ", ")
    }

    /// Total wall time per stage kind, from the manifests of this report's inputs (and their training runs).
    private func stageTimes(_ context: StageContext) -> [(key: String, value: String)] {
        var seconds: [String: Double] = [:]
        for id in inputs {
            if let m = context.inputManifest(id) { seconds[id.kind, default: 0] += m.seconds }
        }
        // Training runs are upstream of the evaluations; their time is recorded in each evaluation. Every evaluate
        // input counts (Figure 1's sweep and the untuned twins too: the tables' runs alone left out a third).
        seconds["train"] = inputs.filter { $0.kind == "evaluate" }
            .compactMap { context.inputMeasurement($0, Timing.secondsTotal) }.reduce(0, +)
        return seconds.keys.sorted().map { ("wall time of \($0) stages", String(format: "%.1f s", seconds[$0]!)) }
    }
}
