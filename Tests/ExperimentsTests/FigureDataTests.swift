import Foundation
import Models
import Reports
import Testing
@testable import Experiments

@Suite struct FigureDataTests {
    func entry(_ name: String, _ kind: ModelConfig.Kind) -> ModelEntry {
        ModelEntry(name: name, label: name, config: ModelConfig(kind: kind))
    }

    @Test func theParetoFrontIsTakenOverEveryFamilySoADominatingBaselineRemovesACpRecVariant() {
        // (parameters, MRR@5): Caser beats Bi-NextItNet on both axes; CpRec-Cb is smallest; NextItNet is largest
        // but most accurate.
        let points = [
            DataPoint(216_000, 0.0389, label: "Bi-NextItNet"), DataPoint(211_000, 0.0419, label: "Caser"),
            DataPoint(60_000, 0.0350, label: "CpRec-Cb"), DataPoint(600_000, 0.0450, label: "NextItNet"),
            DataPoint(110_000, 0.0369, label: "Bio-SASRec"), DataPoint(81_000, 0.0383, label: "Bio-GRU4Rec")
        ]
        let front = ParetoFigureStage.front(points).map { points[$0].label! }
        #expect(front == ["CpRec-Cb", "Bio-GRU4Rec", "Caser", "NextItNet"])
        #expect(ParetoFigureStage.family(entry("caser", .caser)) == "Caser")
        #expect(ParetoFigureStage.family(entry("gru4rec", .gru4rec)) == "GRU4Rec / block-wise GRU4Rec")
        #expect(ParetoFigureStage.family(entry("nextitnet", .nextitnet)) == "NextItNet")
        // Seven families, seven colours, none of them the front's black.
        let types = (0..<7).map(ParetoFigureStage.familyLinetype)
        #expect(Set(types).count == 7 && !types.contains(Palette.black))
    }

    @Test func equalSizedModelsWithinTheToleranceAreDrawnAsOneBestFirst() {
        let points = [DataPoint(100, 0.300), DataPoint(50, 0.2), DataPoint(100, 0.305), DataPoint(100, 0.35)]
        #expect(ParetoFigureStage.coincident(points, tolerance: 0.01) == [[2, 0], [1], [3]])
        #expect(ParetoFigureStage.coincident(points, tolerance: 0) == [[0], [1], [2], [3]])
    }

    @Test func convergenceBandsAreTheMeanAndSampleSdOfTheSeedsStillTraining() {
        typealias C = ConvergenceFigureStage.Curve
        let a = C(points: [(1, 0.10), (2, 0.20), (3, 0.30)], best: 3, secondsPerEpoch: 2)
        let b = C(points: [(1, 0.20), (2, 0.40)], best: 2, secondsPerEpoch: 2)
        let band = ConvergenceFigureStage.band([a, b])
        #expect(band.map(\.x) == [1, 2, 3])
        #expect(abs(band[0].y - 0.15) < 1e-12 && abs(band[0].yError! - 0.05 * 2.0.squareRoot()) < 1e-12)
        #expect(abs(band[1].y - 0.30) < 1e-12 && abs(band[1].yError! - 0.1 * 2.0.squareRoot()) < 1e-12)
        // One seed left: its value, no spread.
        #expect(band[2].y == 0.30 && band[2].yError == 0)
    }

    /// The shipped specs: on every profile the Pareto panel covers every model trained on its datasets (all
    /// families: GRU4Rec and Caser were left out once and their points dominated CpRec's), and the long-tail figure
    /// leaves Table 6's stand-in pair out of a profile that does not compare models on it.
    @Test(arguments: ["default", "movielens-100k", "smoke"])
    func figuresCoverWhatTheProfileTrains(profile: String) throws {
        let out = try temporaryDirectory("figs")
        defer { try? FileManager.default.removeItem(at: out) }
        let stages = try Paper.graph(
            ExperimentOptions(profile: profile, specDirectory: repositorySpecs, outputRoot: out))
        let pareto = try #require(stages.first { $0.id.raw == "figure/pareto" } as? ParetoFigureStage)
        let drawn = Set(pareto.models.map(\.name))
        for ds in pareto.datasets.map(\.name) {
            let prefix = "evaluate/\(ds)/"
            let ids: [String] = stages.map(\.id.raw).filter { $0.hasPrefix(prefix) }
            let names: [String] = ids.map { String($0.split(separator: "/")[2]) }
            // Figure 1's sweep points and the untuned twins are variants of a drawn model, MostPop has no parameters.
            let trained = Set(
                names.filter { name in
                    !name.contains("-untuned") && name != "mostpop"
                        && name.range(of: #"-(d|r)\d+$"#, options: .regularExpression) == nil
                })
            #expect(
                trained.subtracting(drawn).isEmpty,
                "\(profile)/\(ds): trained but not on the Pareto panel: \(trained.subtracting(drawn).sorted())")
        }
        let tail = try #require(stages.first { $0.id.raw == "figure/longtail" } as? LongTailFigureStage)
        #expect(!tail.datasets.contains { $0.name.hasPrefix("coldrec") })
        let convergence = try #require(stages.first { $0.id.raw == "figure/convergence" } as? ConvergenceFigureStage)
        if profile == "default" { #expect(convergence.datasets.map(\.name) == ["weishi-syn", "mllatest-syn", "tiktok-syn"]) }
    }
}
