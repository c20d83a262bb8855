import Foundation
import Pipeline
import Testing
@testable import Experiments

/// The paper's roles live in experiments.yaml: a new model or reference reaches tables, claims and the report
/// through a spec edit alone.
@Suite struct RolesTests {
    private func graph(_ dir: URL, profile: String = "smoke") throws -> [String: any Stage] {
        let stages = try Paper.graph(ExperimentOptions(profile: profile, specDirectory: dir, outputRoot: dir))
        return Dictionary(uniqueKeysWithValues: stages.map { ($0.id.raw, $0) })
    }

    @Test func aFifthCpRecVariantReachesTable2AndTheClaims() throws {
        let dir = try specsCopy(editing: "models.yaml") {
            $0
                + "  cprec-x:        {label: CpRec-X, kind: nextitnet, input: blockwise, output: blockwise, sharing: cross-block, blockFactor: 3}\n"
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let experiments = dir.appendingPathComponent("experiments.yaml")
        let text = try String(contentsOf: experiments, encoding: .utf8)
            .replacingOccurrences(
                of: "cprec: [cprec-cl, cprec-cb, cprec-al, cprec-ab]",
                with: "cprec: [cprec-cl, cprec-cb, cprec-al, cprec-ab, cprec-x]"
            )
            .replacingOccurrences(
                of: "cprec-al, cprec-ab]\n    columns: [MRR@5",
                with: "cprec-al, cprec-ab, cprec-x]\n    columns: [MRR@5")
        try text.write(to: experiments, atomically: true, encoding: .utf8)

        let stages = try graph(dir)
        let table2 = try #require(stages["table/table2"] as? TableStage)
        #expect(table2.table.rows.last == "cprec-x")
        #expect(table2.inputs.contains("evaluate/weishi-smoke/cprec-x/seed11"))
        let evaluate = try #require(stages["evaluate/weishi-smoke/cprec-x/seed10"] as? EvaluateStage)
        #expect(evaluate.model.config.blockFactor == 3 && evaluate.baseline?.name == "nextitnet")
        let report = try #require(stages["report/report"] as? ReportStage)
        #expect(report.roles.cprec.last == "cprec-x")

        var results = ResultSet(roles: report.roles)
        results.datasets = [("d", "D")]
        results.evaluations["d"] = [
            "nextitnet": seededRecord("nextitnet", mrr5: [0.10, 0.11, 0.09], params: 1_000_000),
            "mostpop": seededRecord("mostpop", mrr5: [0.02, 0.02, 0.02], params: 0, middle: 0),
            "cprec-x": seededRecord(
                "cprec-x", mrr5: [0.12, 0.13, 0.11], params: 100_000, secondsPerEpoch: 4, speedup: 3)
        ]
        let headline = report.headline(results)
        #expect(
            headline.rows.contains { row in
                if case .text(let s) = row.first?.value { return s == "cprec-x" } else { return false }
            })
    }

    @Test func aTableNamesItsOwnSpeedupReference() throws {
        let dir = try specsCopy(editing: "models.yaml") {
            $0 + "  x-nextitnet:    {label: X-NextItNet, kind: nextitnet, sharing: cross-block, kernel: 2}\n"
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let experiments = dir.appendingPathComponent("experiments.yaml")
        let original = try String(contentsOf: experiments, encoding: .utf8)
        let table =
            "\n  table9:\n    title: X\n    caption: X against Cb\n    rows: [x-nextitnet]\n    columns: [MRR@5, Speedup]\n    reference: cb-nextitnet\n"
        try original.replacingOccurrences(of: "\nfigures:", with: table + "\nfigures:").write(
            to: experiments, atomically: true, encoding: .utf8)
        let stages = try graph(dir)
        let table9 = try #require(stages["table/table9"] as? TableStage)
        #expect(table9.references == ["cb-nextitnet", "mostpop"] && table9.referenceLabel == "Cb-NextItNet")
        #expect(table9.inputs.contains("evaluate/weishi-smoke/cb-nextitnet/seed10"))
        let x = try #require(stages["evaluate/weishi-smoke/x-nextitnet/seed10"] as? EvaluateStage)
        #expect(x.baseline?.name == "cb-nextitnet" && x.inputs.contains("train/weishi-smoke/cb-nextitnet/seed10"))
        // Every other model keeps the roles' baseline.
        #expect(
            try #require(stages["evaluate/weishi-smoke/cprec-cb/seed10"] as? EvaluateStage).baseline?.name
                == "nextitnet")

        // A model in two tables cannot be timed against two references: the second table's row is blamed.
        let clash = original.replacingOccurrences(
            of: "ab-nextitnet]\n    columns: [MRR@5, HR@5, TT, Params(mid)]",
            with: "ab-nextitnet]\n    columns: [MRR@5, HR@5, TT, Params(mid)]\n    reference: cb-nextitnet")
        try clash.write(to: experiments, atomically: true, encoding: .utf8)
        let line = lineOf(clash, "rows: [nextitnet, cl-nextitnet")
        #expect(throws: SpecError.self) { try SpecBundle.load(dir) }
        do { _ = try SpecBundle.load(dir) } catch {
            #expect(
                "\(error)"
                    == "experiments.yaml:\(line): tables.table4.rows[0]: 'nextitnet' is also in table2, whose speedup reference is 'nextitnet', not 'cb-nextitnet'; a model is timed against one reference"
            )
        }
    }

    /// `figures:` drops a figure from a profile with a spec edit: only the named figures get stages and report
    /// sections, Figure 1's runs still train (claims read them), and a profile without the key keeps every figure
    /// and every key. A figure name that does not exist, or Figure 1 without `figure1:`, is an error at its line.
    @Test func aProfileDrawsOnlyTheFiguresItNames() throws {
        let all = try graph(repositorySpecs)
        let figureIDs = { (g: [String: any Stage]) in Set(g.keys.filter { $0.hasPrefix("figure/") }) }
        #expect(
            figureIDs(all) == ["figure/longtail", "figure/fig1", "figure/pareto", "figure/convergence", "figure/scalemap"])
        let edited = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "    sampledNegatives: 20\n", with: "    sampledNegatives: 20\n    figures: [pareto]\n")
        }
        defer { try? FileManager.default.removeItem(at: edited) }
        let some = try graph(edited)
        #expect(figureIDs(some) == ["figure/pareto"])
        let report = try #require(some["report/report"] as? ReportStage)
        #expect(report.figures == ["pareto"])
        #expect(some.keys.contains { $0.hasPrefix("train/") && $0.contains("-d32/") }, "Figure 1's runs still train")
        let plain = try #require(all["report/report"] as? ReportStage)
        #expect(plain.figures == ["longtail", "fig1", "pareto", "convergence", "scalemap"])
        for id in all.keys where !id.hasPrefix("figure/") && id != "report/report" {
            guard let s = some[id] else { continue }
            #expect(s.parameters == all[id]!.parameters, "\(id) changed")
        }
        // The smoke profile has both `figure1:` and `scaleMap:`; amazon-video has neither.
        for (anchor, bad, message) in [
            ("    sampledNegatives: 20\n", "[pareto, convergance]",
             "unknown figure 'convergance' (did you mean 'convergence'?)"),
            ("    datasets: [amazon-video]\n", "[scalemap]", "figures: 'scalemap' needs the profile's `scaleMap:` key"),
            ("    datasets: [amazon-video]\n", "[fig1, pareto]", "figures: 'fig1' needs the profile's `figure1:` key"),
        ] {
            var line = 0
            let dir = try specsCopy(editing: "profiles.yaml") { text in
                let out = text.replacingOccurrences(of: anchor, with: anchor + "    figures: \(bad)\n")
                line = lineOf(out, "    figures: \(bad)")
                return out
            }
            defer { try? FileManager.default.removeItem(at: dir) }
            do {
                _ = try graph(dir)
                Issue.record("figures: \(bad) was accepted")
            } catch {
                #expect("\(error)".hasPrefix("profiles.yaml:\(line):") && "\(error)".contains(message), "\(error)")
            }
        }
    }

    @Test func depthSweepRepeatsTheProfilesDilations() throws {
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "model: {dim: 16, dilations: [1, 4],", with: "model: {dim: 16, dilations: [1, 2],"
            )
            .replacingOccurrences(of: "dims: [8, 16, 32], depths: [1, 2]}", with: "dims: [8, 16, 32], depths: [1, 3]}")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = try graph(dir)
        let deep = try #require(stages["train/mllatest-smoke/nextitnet-r3/seed10"] as? TrainStage)
        #expect(deep.model.config.dilations == [1, 2, 1])
    }

    @Test func reportProseComesFromTheSpecs() throws {
        let stages = try graph(repositorySpecs, profile: "default")
        let report = try #require(stages["report/report"] as? ReportStage)
        // One description when every dataset splits alike (the synthetic datasets' large 20/80 test splits).
        #expect(
            report.split
                == "random 20/80 of fixed-length sequences (t = 20), validation carved from training (validFraction 0.1)")
        #expect(report.paperDatasets == "Weishi, ML-latest, TikTok and ColdRec")
        // Per dataset when they differ (Weishi-20K's 40/60, in its own profile beside ML-latest's 20/80).
        let both = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "    datasets: [weishi-20k]\n", with: "    datasets: [mllatest-syn, weishi-20k]\n")
        }
        defer { try? FileManager.default.removeItem(at: both) }
        let mixed = try #require(try graph(both, profile: "weishi-20k")["report/report"] as? ReportStage)
        #expect(
            mixed.split.hasSuffix(
                "weishi-20k: random 40/60 of fixed-length sequences (t = 20), validation carved from training (validFraction 0.1)"
            ))
        // `timedRows` reaches the evaluate stage's key only where a profile declares it (other keys stay as they were).
        let declared = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "    sampledNegatives: 20\n", with: "    sampledNegatives: 20\n    timedRows: 500\n")
        }
        defer { try? FileManager.default.removeItem(at: declared) }
        let timed = try #require(try graph(declared)["evaluate/weishi-smoke/nextitnet/seed10"] as? EvaluateStage)
        #expect(timed.timedRows == 500 && "\(timed.parameters)".contains("timedRows"))
        let plain = try #require(
            try graph(repositorySpecs, profile: "amazon-video")["evaluate/amazon-video/nextitnet/seed10"]
                as? EvaluateStage)
        #expect(plain.timedRows == EvaluateStage.defaultTimedRows && !"\(plain.parameters)".contains("timedRows"))
        // The Amazon profiles split leave-one-out, and the report says so (it once printed "random 80/20").
        let video = try #require(try graph(repositorySpecs, profile: "amazon-video")["report/report"] as? ReportStage)
        #expect(video.split.hasPrefix("leave-one-out per user") && video.split.contains("t = 51"))
        let paper = try PaperValues.load(repositorySpecs.appendingPathComponent("paper-values.yaml"))
        #expect(
            paper.provenance(label: { $0 == "bo-nextitnet" ? "Bo-NextItNet" : $0 }) == "Table 3, Weishi, Bo-NextItNet")
    }
}
