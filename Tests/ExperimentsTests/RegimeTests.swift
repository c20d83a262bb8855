import Datasets
import Evaluation
import Foundation
import Pipeline
import Reports
import Testing
@testable import Experiments

/// The paper's regime in the specs: a large dataset that runs a subset of models in some tables with its own model
/// defaults, the speed claim judged there, Table 6's extra rows, and companion results in the report.
@Suite struct RegimeTests {
    /// The smoke profile with `weishi-smoke` restricted to NextItNet, CpRec-Cb and MostPop in Table 2, with its own
    /// block widths.
    static let restricted = """
        datasets: [weishi-smoke, mllatest-smoke]
            perDataset:
              weishi-smoke: {models: [mostpop, nextitnet, cprec-cb], tables: [table2], model: {blockWidths: [16, 8, 4]}}
        """

    func smokeWithPlan(_ plan: String = RegimeTests.restricted) throws -> URL {
        try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "datasets: [weishi-smoke, mllatest-smoke]", with: plan)
        }
    }

    @Test func aRestrictedDatasetRunsOnlyItsModelsAndTables() throws {
        let dir = try smokeWithPlan()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        let ids = Set(stages.map(\.id.raw))
        #expect(ids.contains("train/weishi-smoke/cprec-cb/seed10"))
        #expect(ids.contains("train/weishi-smoke/nextitnet/seed10"))
        #expect(!ids.contains("train/weishi-smoke/gru4rec/seed10"))
        #expect(!ids.contains("train/weishi-smoke/cl-nextitnet/seed10"))
        #expect(ids.contains("train/mllatest-smoke/gru4rec/seed10"))

        func table(_ name: String) -> TableStage? { stages.first { $0.id.raw == "table/\(name)" } as? TableStage }
        #expect(table("table2")?.datasets.map(\.name) == ["weishi-smoke", "mllatest-smoke"])
        #expect(table("table3")?.datasets.map(\.name) == ["mllatest-smoke"])
        // Table 2 reads only the runs that exist on the restricted dataset.
        let t2inputs = Set(table("table2")?.inputs.map(\.raw) ?? [])
        #expect(t2inputs.contains("evaluate/weishi-smoke/cprec-cb/seed10"))
        #expect(!t2inputs.contains("evaluate/weishi-smoke/gru4rec/seed10"))
        #expect(t2inputs.contains("evaluate/mllatest-smoke/gru4rec/seed10"))
        let pareto = stages.first { $0.id.raw == "figure/pareto" } as? ParetoFigureStage
        // The restricted dataset gets a panel of its own models (the Video Games report once failed on an empty
        // figure).
        #expect(pareto?.datasets.map(\.name) == ["weishi-smoke", "mllatest-smoke"])
        let paretoInputs = Set(pareto?.inputs.map(\.raw) ?? [])
        #expect(paretoInputs.contains("evaluate/weishi-smoke/cprec-cb/seed10"))
        #expect(!paretoInputs.contains("evaluate/weishi-smoke/gru4rec/seed10"))
        #expect(paretoInputs.contains("evaluate/mllatest-smoke/gru4rec/seed10"))

        // The dataset's own model defaults reach its runs and nowhere else.
        let train = stages.first { $0.id.raw == "train/weishi-smoke/cprec-cb/seed10" } as? TrainStage
        #expect(train?.model.config.blockWidths == [16, 8, 4])
        let other = stages.first { $0.id.raw == "train/mllatest-smoke/cprec-cb/seed10" } as? TrainStage
        #expect(other?.model.config.blockWidths == [])
    }

    @Test func aPlanNamesItsLineWhenItIsWrong() throws {
        for (plan, message) in [
            (
                "perDataset:\n      weishi-smok: {models: [nextitnet]}",
                "'weishi-smok' is not among this profile's datasets"
            ),
            ("perDataset:\n      weishi-smoke: {models: [nextitnte]}", "unknown model 'nextitnte'"),
            ("perDataset:\n      weishi-smoke: {tables: [table9]}", "unknown table 'table9'"),
            ("perDataset:\n      weishi-smoke: {modles: [nextitnet]}", "did you mean 'models'")
        ] {
            let dir = try smokeWithPlan("datasets: [weishi-smoke, mllatest-smoke]\n    " + plan)
            defer { try? FileManager.default.removeItem(at: dir) }
            let e = #expect(throws: SpecError.self) { try SpecBundle.load(dir) }
            let text = e.map { "\($0)" } ?? ""
            #expect(text.contains(message), "\(text)")
            #expect(text.contains("profiles.yaml:"), "\(text)")
        }
    }

    /// The paper's regime (K >= 20,000) lives in the default's companion `weishi-20k`, so the default fits its
    /// time budget; the default pools it through `companions`.
    @Test func theWeishiProfileHasAPaperRegimeDatasetWithBlocksNoNarrowerThan16() throws {
        let specs = try SpecBundle.load(repositorySpecs)
        let catalog = try DatasetCatalog.load(repositorySpecs)
        #expect(try specs.profile("default").companions.contains("weishi-20k"))
        let profile = try specs.profile("weishi-20k")
        let large = try #require(
            profile.datasets.first { name in
                guard case .synthetic(let s) = try catalog.spec(name).source else { return false }
                return s.items >= 20_000
            })
        #expect(try catalog.entry(large).blocks == BlockRule(rule: .cutoffs, cutoffs: [7000, 15000]))
        for name in ["nextitnet"] + shippedRoles.cprec {
            #expect(profile.runs(name, on: large))
            let widths = try specs.model(name, profile: profile.on(large)).config.blockWidths
            #expect(!widths.isEmpty && widths.allSatisfy { $0 >= 16 }, "\(name): \(widths)")
        }
    }

    /// Weishi-20K runs only NextItNet and CpRec (perDataset): claims about other models say "not measurable" in
    /// its group and why, instead of borrowing another group's verdict.
    @Test func aGroupWhereTheModelsDidNotRunIsNotMeasurable() {
        var r = ResultSet(roles: shippedRoles)
        r.profile = "fixture"
        r.datasets = [("small", "Small"), ("large", "Large")]
        r.facts = [
            "small": DatasetFacts(synthetic: true, items: 2000), "large": DatasetFacts(synthetic: true, items: 20_727)
        ]
        for ds in ["small", "large"] {
            r.evaluations[ds] = ["nextitnet": seededRecord("nextitnet", mrr5: [0.1, 0.11, 0.1], params: 1_000_000)]
            for m in shippedRoles.cprec {
                r.evaluations[ds]![m] = seededRecord(m, mrr5: [0.1, 0.1, 0.11], params: 200_000)
            }
        }
        r.evaluations["small"]!["bio-nextitnet"] = seededRecord("bio-nextitnet", mrr5: [0.1, 0.1, 0.1], params: 300_000)
        let blockwise = judge("blockwise", r)
        #expect(blockwise.pairs.map(\.dataset) == ["small"])
        let large = blockwise.groups.first { $0.group == "synthetic-regime" }!
        #expect(large.verdict == .notMeasurable && large.detail.contains("not measured on Large"))
        #expect(Set(judge("accuracy-matches", r).pairs.map(\.dataset)) == ["small", "large"])
        #expect(judge("self-attention", r).verdict == .notMeasurable)
    }

    /// Caser, GRU4Rec and SASRec runs that ended on their best epoch were cut by the 20-epoch cap while still
    /// improving; tables mark them ‡ (seeds counted per merged row), and a run stopped by patience never counts.
    @Test func runsThatEndOnTheirBestEpochAreCountedAsCappedWhileImproving() {
        func run(best: Int, trained: Int, seed: UInt64) -> EvaluationRecord {
            var r = seededRecord("caser", mrr5: [0.1], params: 1000)
            (r.bestEpoch, r.epochsTrained, r.seeds, r.seedEndedOnBest) = (best, trained, [seed], [])
            return r
        }
        #expect(run(best: 20, trained: 20, seed: 1).seedsCappedWhileImproving == 1)
        #expect(run(best: 17, trained: 20, seed: 1).seedsCappedWhileImproving == 0)
        #expect(run(best: 0, trained: 0, seed: 1).seedsCappedWhileImproving == 0, "MostPop: no epochs")
        let merged = EvaluationRecord.merging([
            run(best: 20, trained: 20, seed: 1), run(best: 9, trained: 12, seed: 2),
            run(best: 20, trained: 20, seed: 3)
        ])
        #expect(merged.seedEndedOnBest == [true, false, true])
        #expect(merged.seedsCappedWhileImproving == 2)
    }

    @Test func table6HasAFrozenRowBesideThePaperRowAndTheAblation() throws {
        let stages = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs,
                outputRoot: URL(fileURLWithPath: "/tmp")))
        let ids = Set(stages.map(\.id.raw))
        for suffix in ["", "-frozen", "-scratch"] {
            #expect(ids.contains("finetune/coldrec-smoke/nextitnet\(suffix)/seed10"), "\(suffix)")
        }
        let frozen = stages.first { $0.id.raw == "finetune/coldrec-smoke/nextitnet-frozen/seed10" } as? FinetuneStage
        #expect(frozen?.freezeBackbone == true && frozen?.pretrained == true)
        let paperRow = stages.first { $0.id.raw == "finetune/coldrec-smoke/nextitnet/seed10" } as? FinetuneStage
        #expect(paperRow?.freezeBackbone == false)
    }

    @Test func theTargetSetCanBeLimitedToTheFirstUsers() throws {
        var spec = SyntheticSpec(users: 300, items: 80, clusters: 4, targetItems: 30, seed: 5)
        let all = try SyntheticGenerator.generate(spec)
        spec.targetUsers = 50
        let few = try SyntheticGenerator.generate(spec)
        #expect(all.targets.allSatisfy { !$0.isEmpty })
        #expect(few.targets.prefix(50).allSatisfy { !$0.isEmpty })
        #expect(few.targets.dropFirst(50).allSatisfy { $0.isEmpty })
        // The source side does not change: only who has a target does.
        #expect(few.sequences == all.sequences)
        let dir = try temporaryDirectory("targets")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticGenerator.write(spec, format: FormatSpec(kind: .coldrec), into: dir)
        let lines = try String(contentsOf: dir.appendingPathComponent("target.csv"), encoding: .utf8).split(
            separator: "\n")
        #expect(lines.count == 50)
        spec.targetUsers = 301
        #expect(throws: DatasetError.self) { try SyntheticGenerator.generate(spec) }
    }

    @Test func theReportShowsACompanionProfilesCommittedResults() throws {
        let dir = try temporaryDirectory("companion")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = ReportStage.Companion(profile: "movielens-100k", summary: "real", directory: dir)
        #expect(!c.present)
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("paper-tables"), withIntermediateDirectories: true)
        for f in ReportStage.Companion.files {
            try "x".write(to: dir.appendingPathComponent(f), atomically: true, encoding: .utf8)
        }
        #expect(c.present)
        let specs = try SpecBundle.load(repositorySpecs)
        #expect(
            try specs.profile("default").companions == ["weishi-20k", "movielens-100k", "amazon-video", "amazon-beauty"])
        let bad = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "companions: [weishi-20k, movielens-100k,", with: "companions: [weishi-20k, movielens-10k,")
        }
        defer { try? FileManager.default.removeItem(at: bad) }
        let e = #expect(throws: SpecError.self) { try SpecBundle.load(bad) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("must name another profile"))
    }

    @Test func changedVerdictsAreShownWithTheirReason() throws {
        let dir = try temporaryDirectory("verdicts")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("verdicts.yaml")
        try """
        previous:
          commit: abc1234
          profile: default
          verdicts: {speed: does not hold, accuracy: holds}
        why: {speed: measured where the paper made it}
        """.write(to: url, atomically: true, encoding: .utf8)
        let history = try VerdictHistory.load(url)
        let claims = [
            Claim(id: "speed", statement: "s", source: "x", evidence: "e", verdict: .holds, measuredOn: "m"),
            Claim(id: "accuracy", statement: "s", source: "x", evidence: "e", verdict: .holds, measuredOn: "m")
        ]
        #expect(history.table(claims, profile: "smoke") == nil)
        let md = try #require(history.table(claims, profile: "default")).markdown()
        #expect(md.contains("| speed | does not hold | **holds** | measured where the paper made it |"), "\(md)")
        #expect(md.contains("| accuracy | holds | holds | unchanged |"), "\(md)")
        try "previous: {commit: a, profile: default, verdicts: {speed: holdz}}\n".write(
            to: url, atomically: true, encoding: .utf8)
        let e = #expect(throws: SpecError.self) { try VerdictHistory.load(url) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("verdicts.yaml:1"))
        // The shipped history parses.
        _ = try VerdictHistory.load(repositorySpecs.appendingPathComponent("verdicts.yaml"))
    }
}
