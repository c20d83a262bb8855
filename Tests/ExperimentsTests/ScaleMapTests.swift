import Foundation
import Models
import Pipeline
import Testing
@testable import Experiments

/// The scale map times every model against the reference in the same cell; a reference skipped for memory must
/// leave its models without a speedup (it once made the first model the reference of the others).
@Suite struct ScaleMapTests {
    /// A scale map over the smoke profile's models at d = 16 (CpRec-Cb plotted), timed for 2 ms a cell.
    static func stage(_ names: [String] = ["nextitnet", "cprec-cb"], vocabularies: [Int]) throws -> ScaleMapStage {
        let specs = try SpecBundle.load(repositorySpecs)
        let smoke = try specs.profile("smoke")
        return ScaleMapStage(
            spec: ScaleMapSpec(vocabularies: vocabularies, dims: [16], budget: 0.002),
            models: try names.map { try specs.model($0, profile: smoke) }, plotted: "cprec-cb", threads: 1)
    }

    /// The map's blocks: the authors' cutoffs where K allows them, else the same proportions of K.
    @Test func blocksAreTheAuthorsCutoffsOrTheirProportions() {
        #expect(ScaleMapStage.blocks(50_000) == [7000, 15000, 50_000])
        #expect(ScaleMapStage.blocks(1000) == [350, 750, 1000])
    }

    /// FLOPs by hand for d = 4, two residual blocks (four k = 3 convs), K = 20: the middle is 4 · 2·t·3·4²; a full
    /// softmax 2·4·20; a low-rank one (e = 2) 2·4·2 + 2·2·20; a tree softmax over [2, 6, 20] with widths 4/2/1 scores
    /// the head's 2 items and 2 clusters at width 4 (2·4·4), then every tail: 2·4·2 + 2·2·4 and 2·4·1 + 2·1·14.
    @Test func outputFlopsMatchAHandCount() {
        var c = ModelConfig(kind: .nextitnet)
        c.dim = 4
        c.dilations = [1, 4]
        c.kernel = 3
        let t = Double(ScaleMapStage.seqLength)
        #expect(ScaleMapStage.flops(c, K: 20).middle == 4 * 2 * t * 3 * 16)
        #expect(ScaleMapStage.flops(c, K: 20).output == 160)
        c.output = .lowrank
        c.lowRank = 2
        #expect(ScaleMapStage.flops(c, K: 20).output == 16 + 80)
        c.output = .blockwise
        c.blocks = [2, 6, 20]
        c.blockWidths = [4, 2, 1]
        #expect(ScaleMapStage.flops(c, K: 20).output == 32 + (16 + 16) + (8 + 28))
    }

    /// Speedups at one K only (the reference skipped at the other) and far from every reference line: the panels'
    /// points then share one x, gnuplot's range was empty, and its warning failed the stage (seen under load, when
    /// a speedup of ~0.3 left no reference line inside the fitted y range).
    @Test func speedupsAtOneVocabularyStillDraw() throws {
        let stage = try Self.stage(vocabularies: [200, 1000])
        let cells = [
            ScaleCell(K: 200, dim: 16, model: "nextitnet", label: "NextItNet", params: 9000, ioParams: 6400,
                      outputFlopShare: 0.1, batch1: 1e-4, batch128: 1e-6),
            ScaleCell(K: 200, dim: 16, model: "cprec-cb", label: "CpRec-Cb", params: 3000, ioParams: 1200,
                      outputFlopShare: 0.05, batch1: 3e-4, batch128: 3e-6, reference1: 1e-4, reference128: 1e-6),
            ScaleCell(K: 1000, dim: 16, model: "nextitnet", label: "NextItNet", params: 40000, ioParams: 32000,
                      outputFlopShare: 0.3, skipped: "memory"),
            ScaleCell(K: 1000, dim: 16, model: "cprec-cb", label: "CpRec-Cb", params: 9000, ioParams: 6000,
                      outputFlopShare: 0.1, batch1: 2e-4, batch128: 2e-6),
        ]
        let root = try temporaryDirectory("scalemap-one-k")
        defer { try? FileManager.default.removeItem(at: root) }
        try stage.figure(cells).render(to: root, name: "scalemap")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("scalemap.png").path))
    }

    @Test func aSkippedReferenceGivesNoSpeedup() throws {
        var stage = try Self.stage(["nextitnet", "cprec-cl", "cprec-cb"], vocabularies: [200, 1000])
        // NextItNet at K = 1000, d = 16 needs ~0.29 MB for values and gradients, CpRec under 0.2 MB: only the
        // reference is skipped there; at K = 200 nothing is.
        stage.memoryLimit = 250_000
        let root = try temporaryDirectory("scalemap")
        defer { try? FileManager.default.removeItem(at: root) }
        let engine = try Engine(stages: [stage], store: CacheStore(root: root.appendingPathComponent(".cache")))
        let summary = try engine.run(nil, options: RunOptions(jobs: 1, threads: 1, outputRoot: root))
        #expect(summary.succeeded, "\(summary.failed)")
        let key = try #require(engine.status().first { $0.id == stage.id }?.key)
        let cells = try JSONFiles.read(
            [ScaleCell].self,
            from: engine.store.outputs(kind: "figure", key: key)
                .appendingPathComponent("scalemap.json"))
        let big = cells.filter { $0.K == 1000 }, small = cells.filter { $0.K == 200 }
        #expect(big.first { $0.model == "nextitnet" }?.skipped != nil)
        for c in big where c.model != "nextitnet" {
            #expect(c.skipped == nil && c.batch1 != nil, "\(c.model) at K 1000 should be timed")
            #expect(c.reference1 == nil && c.reference128 == nil, "\(c.model) got a reference")
        }
        for c in small where c.model != "nextitnet" { #expect(c.reference1 != nil && c.reference128 != nil) }
    }

    /// Axes fit the data: a panel whose speedups sit near 1× shows no 2× and 4× lines and no decade below 0.5.
    @Test func axesFitTheDataAndReferenceLinesStayInside() throws {
        let stage = try Self.stage(vocabularies: [1000, 2000])
        func cell(_ m: String, _ K: Int, b128: Double) -> ScaleCell {
            var c = ScaleCell(
                K: K, dim: 16, model: m, label: m, params: m == "nextitnet" ? 4000 : 1000, ioParams: 0,
                outputFlopShare: 0.5, batch1: 1, batch128: 1)
            if m != "nextitnet" { c.reference1 = 3; c.reference128 = b128 }
            return c
        }
        let cells = [
            cell("nextitnet", 1000, b128: 0), cell("cprec-cb", 1000, b128: 0.95),
            cell("nextitnet", 2000, b128: 0), cell("cprec-cb", 2000, b128: 1.2)
        ]
        let fig = stage.figure(cells)
        #expect(fig.panels.count == 3)
        let b128 = fig.panels[1]
        let range = try #require(b128.yRange)
        #expect(range.lowerBound > 0.5 && range.upperBound < 2)
        #expect(b128.series.filter { !$0.inKey }.map(\.name).sorted() == ["1.1×", "1×"])
        #expect(fig.panels[0].series.contains { $0.name == "2×" })  // batch 1 at 3× draws the 2× line
        #expect(ScaleMapStage.fittedRange([]) == nil)
    }
}
