import Datasets
import Foundation
import Models
import Pipeline
import Testing
@testable import Experiments

/// `pipeline all --profile smoke` in a temporary folder with one seed, then with the shipped two (only the new
/// seed's model stages run), then again (nothing runs); every table and figure file, and values that make sense.
@Suite(.serialized) struct EndToEndTests {
    static let tables = ["table1", "table2", "table3", "table4", "table5", "table6", "table7", "literature", "claims"]
    static let figures = ["fig1", "longtail", "pareto", "convergence"]

    @Test func smokeProfileProducesEveryTableAndFigureThenRunsNothing() throws {
        let root = try temporaryDirectory("e2e")
        defer { try? FileManager.default.removeItem(at: root) }
        let oneSeed = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "    seeds: 2\n", with: "    seeds: 1\n")
        }
        defer { try? FileManager.default.removeItem(at: oneSeed) }
        let store = { CacheStore(root: root.appendingPathComponent(".cache")) }
        let first = try Engine(
            stages: try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: oneSeed, outputRoot: root)),
            store: store()
        ).run(nil, options: RunOptions(jobs: 2, threads: 2, outputRoot: root))
        #expect(first.succeeded, "\(first.failed)")
        #expect(first.cached.isEmpty)
        #expect(!first.ran.contains { $0.raw.hasSuffix("/seed11") })

        // Adding a seed runs that seed's model stages and redraws the presentation, nothing else.
        let options = ExperimentOptions(profile: "smoke", specDirectory: repositorySpecs, outputRoot: root)
        let engine = try Engine(stages: try Paper.graph(options), store: store())
        let added = try engine.run(nil, options: RunOptions(jobs: 2, threads: 2, outputRoot: root))
        #expect(added.succeeded, "\(added.failed)")
        let unexpected = added.ran.filter {
            !$0.raw.hasSuffix("/seed11") && !["table", "figure", "report"].contains($0.kind)
        }
        #expect(unexpected.isEmpty, "reran \(unexpected.map(\.raw))")
        #expect(added.ran.contains { $0.raw == "train/weishi-smoke/nextitnet/seed11" })
        for t in Self.tables {
            for ext in t == "claims" ? ["md", "csv"] : ["md", "tex", "csv"] {
                let url = root.appendingPathComponent("paper-tables/\(t).\(ext)")
                #expect(FileManager.default.fileExists(atPath: url.path), "missing \(url.lastPathComponent)")
            }
        }
        for f in Self.figures {
            for ext in ["png", "svg", "dat", "gp"] {
                let url = root.appendingPathComponent("figures/\(f).\(ext)")
                #expect(((try? Data(contentsOf: url))?.count ?? 0) > 0, "missing \(url.lastPathComponent)")
            }
        }
        // The long-tail panels give each dataset's popularity shape (Table 1's columns).
        let tail = try String(contentsOf: root.appendingPathComponent("figures/longtail.gp"), encoding: .utf8)
        #expect(tail.contains("top 10 % of items hold") && tail.contains("Zipf s = "), "\(tail)")
        let report = try String(contentsOf: root.appendingPathComponent("REPORT.md"), encoding: .utf8)
        // The environment names the threads the model stages ran with (the smoke run gives each stage 1), not the
        // report stage's own count, which changed with -j.
        #expect(report.contains("| threads of each model stage | 1 |") && !report.contains("threads of this stage"))
        for claim in try ClaimSpecFile.load(repositorySpecs.appendingPathComponent("claims.yaml")).claims.map(\.id) {
            #expect(report.contains("| \(claim) |"), "REPORT.md lacks the \(claim) claim")
        }
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("paper-tables/numbers.tex").path))
        // smoke declares sampledNegatives: 20, so every evaluation also ranks against 20 sampled items.
        let literature = try String(
            contentsOf: root.appendingPathComponent("paper-tables/literature.md"), encoding: .utf8)
        #expect(literature.contains("1+20 uniform") && literature.contains("1+20 popular."))
        try checkValues(root)

        let second = try Engine(
            stages: try Paper.graph(options), store: CacheStore(root: root.appendingPathComponent(".cache"))
        )
        .run(nil, options: RunOptions(jobs: 2, threads: 2, outputRoot: root))
        #expect(second.ran.isEmpty)
        #expect(second.succeeded)
    }

    /// What the files hold: metrics in [0, 1], every seed present, NextItNet above MostPop, exact parameter counts.
    func checkValues(_ root: URL) throws {
        let runs = try JSONDecoder().decode(
            [EvaluationRecord].self, from: Data(contentsOf: root.appendingPathComponent("paper-tables/runs.json")))
        #expect(!runs.isEmpty)
        for r in runs {
            for (name, v) in r.metrics {
                #expect(v.isFinite && v >= 0 && v <= 1, "\(r.dataset) \(r.model) \(name) = \(v)")
            }
        }
        let specs = try SpecBundle.load(repositorySpecs)
        let profile = try specs.profile("smoke")
        let catalog = try DatasetCatalog.load(repositorySpecs)
        for ds in profile.datasets {
            let mine = runs.filter { $0.dataset == ds }
            #expect(Set(mine.filter { $0.model == "nextitnet" }.flatMap(\.seeds)) == Set(profile.seeds))
            func mean(_ m: String) -> Double {
                let xs = mine.filter { $0.model == m }.compactMap { $0.metrics["MRR@5"] }
                return xs.reduce(0, +) / Double(max(xs.count, 1))
            }
            #expect(
                mean("nextitnet") > mean("mostpop"),
                "\(ds): NextItNet \(mean("nextitnet")) vs MostPop \(mean("mostpop"))")

            // The prepared data and blocks, rebuilt from the spec, give the closed-form count of every model.
            let entry = try catalog.entry(ds)
            guard case .synthetic(let source) = entry.spec.source else { continue }
            let dir = try temporaryDirectory("e2e-prep")
            defer { try? FileManager.default.removeItem(at: dir) }
            let files = try SyntheticGenerator.write(source, format: entry.spec.format, into: dir)
            let data = try Prep.prepare(
                name: ds, files: files.map { dir.appendingPathComponent($0) }, format: entry.spec.format,
                params: entry.spec.prep)
            let blocks = try Blocking.compute(counts: data.itemCounts, rule: entry.blocks)
            // Table 2-7 runs only: runs.json also holds Figure 1's sweep points and Table 6's rows.
            for r in mine where r.model != "mostpop" && specs.models[r.model] != nil {
                var config = try specs.model(r.model, profile: profile).config
                if config.blocks.isEmpty { config.blocks = blocks.boundaries }
                let c = ModelFactory.closedFormParameterCounts(config, itemCount: data.itemCount)
                #expect(r.params == ParamCounts(input: c.input, middle: c.middle, output: c.output), "\(ds) \(r.model)")
            }
        }
    }
}
