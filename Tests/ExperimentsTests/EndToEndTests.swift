import Foundation
import Pipeline
import Testing
@testable import Experiments

/// `pipeline all --profile smoke` in a temporary folder: every table and figure file, then a rerun that executes nothing.
@Suite(.serialized) struct EndToEndTests {
    static let tables = ["table1", "table2", "table3", "table4", "table5", "table6", "claims"]
    static let figures = ["fig1", "longtail", "pareto", "convergence"]

    @Test func smokeProfileProducesEveryTableAndFigureThenRunsNothing() throws {
        let root = try temporaryDirectory("e2e")
        defer { try? FileManager.default.removeItem(at: root) }
        let options = ExperimentOptions(profile: "smoke", specDirectory: repositorySpecs, outputRoot: root)
        let engine = try Engine(stages: try Paper.graph(options), store: CacheStore(root: root.appendingPathComponent(".cache")))
        let first = try engine.run(nil, options: RunOptions(jobs: 2, threads: 2, outputRoot: root))
        #expect(first.succeeded, "\(first.failed)")
        #expect(first.cached.isEmpty)
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
        let report = try String(contentsOf: root.appendingPathComponent("REPORT.md"), encoding: .utf8)
        for claim in ["compression", "speed", "accuracy", "scaling", "blockwise", "sharing", "transfer"] {
            #expect(report.contains("| \(claim) |"), "REPORT.md lacks the \(claim) claim")
        }
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("paper-tables/numbers.tex").path))

        let second = try Engine(stages: try Paper.graph(options), store: CacheStore(root: root.appendingPathComponent(".cache")))
            .run(nil, options: RunOptions(jobs: 2, threads: 2, outputRoot: root))
        #expect(second.ran.isEmpty)
        #expect(second.succeeded)
    }
}
