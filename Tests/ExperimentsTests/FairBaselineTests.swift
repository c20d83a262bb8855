import Foundation
import Pipeline
import Testing
@testable import Experiments

/// Figure 1's further models and Table 6's trained random-init row (issue 22, items 3 and 5).
@Suite struct FairBaselineTests {
    private static let smokeFigure1 = "    figure1: {dataset: mllatest-smoke, dims: [8, 16, 32], depths: [1, 2]}\n"
    private static let smokeTransfer =
        "    transfer: {dataset: coldrec-smoke, models: [nextitnet, cprec-cb], epochs: 2, negatives: 10}\n"

    private func graph(_ dir: URL) throws -> [String: any Stage] {
        let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        return Dictionary(uniqueKeysWithValues: stages.map { ($0.id.raw, $0) })
    }

    /// CpRec is swept over the same d grid as NextItNet; its point at the profile's own d reuses the table's runs,
    /// and NextItNet's points (the scaling claim's) are unchanged.
    @Test func figure1ModelsSweepTheSameDims() throws {
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: Self.smokeFigure1,
                with:
                    "    figure1: {dataset: mllatest-smoke, dims: [8, 16, 32], depths: [1, 2], models: [nextitnet, cprec-cb]}\n"
            )
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let with = try graph(dir), without = try graph(repositorySpecs)
        let fig = try #require(with["figure/fig1"] as? Figure1Stage)
        let plain = try #require(without["figure/fig1"] as? Figure1Stage)
        let cprec = fig.points.filter { $0.model == "cprec-cb" }
        #expect(cprec.map(\.value) == [8, 16, 32] && cprec.allSatisfy { $0.axis == "dim" })
        #expect(
            cprec[1].stages == EvaluateStage.stageIDs(dataset: "mllatest-smoke", model: "cprec-cb", seeds: [10, 11]))
        #expect(
            with["train/mllatest-smoke/cprec-cb-d32/seed11"] != nil
                && with["train/mllatest-smoke/cprec-cb-d8/seed10"] != nil)
        #expect(fig.points.filter { $0.model == nil } == plain.points)
        let d32 = try #require(with["train/mllatest-smoke/cprec-cb-d32/seed10"] as? TrainStage)
        #expect(
            d32.model.config.dim == 32 && d32.model.config.sharing == .crossBlock
                && d32.model.config.output == .blockwise)
    }

    @Test func figure1UnknownModelIsRejectedWithItsLine() throws {
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: Self.smokeFigure1,
                with:
                    "    figure1: {dataset: mllatest-smoke, dims: [8, 16, 32], depths: [1, 2], models: [nextitnet, cprec-bc]}\n"
            )
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: dir.appendingPathComponent("profiles.yaml"), encoding: .utf8)
        var message = ""
        do { _ = try graph(dir) } catch { message = "\(error)" }
        #expect(
            message.contains("profiles.yaml:\(lineOf(text, "cprec-bc"))")
                && message.contains("unknown model 'cprec-bc'"), "\(message)")
    }

    /// `transfer.scratch` changes only the random-init rows' keys; the row then stops by itself under its cap and
    /// records the learning rate it chose from the grid.
    @Test func scratchRowTrainsUntilItStopsByItself() throws {
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: Self.smokeTransfer,
                with: """
                        transfer: {dataset: coldrec-smoke, models: [nextitnet, cprec-cb], epochs: 2, negatives: 10,
                                   scratch: {maxEpochs: 200, patience: 3, learningRates: [0.003, 0.01]}}

                    """)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let with = try graph(dir), without = try graph(repositorySpecs)
        for (id, s) in with where id.hasPrefix("finetune/") {
            let old = try #require(without[id])
            #expect((s.parameters == old.parameters) == !id.contains("-scratch/"), "\(id)")
        }
        let cache = try temporaryDirectory("scratch-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let store = CacheStore(root: cache.appendingPathComponent(".cache"))
        let engine = try Engine(
            stages: try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: cache)),
            store: store)
        let id = "finetune/coldrec-smoke/nextitnet-scratch/seed10"
        #expect(try engine.run([id], options: RunOptions(jobs: 1, threads: 1, outputRoot: cache)).succeeded)
        let key = try #require(engine.status().first { $0.id.raw == id }?.key)
        let r = try JSONFiles.read(
            TransferRecord.self,
            from: store.outputs(kind: "finetune", key: key).appendingPathComponent(FinetuneStage.fileName))
        let run = try #require(r.epochsRun), best = try #require(r.bestEpoch)
        #expect(run < 200 && run - best == 3, "ran \(run), kept \(best)")
        #expect([0.003, 0.01].contains(r.learningRate ?? -1))
        #expect(Table6Stage.scratchNote([r]).first?.contains("no run reached") == true)
    }

    @Test func badScratchSectionIsRejected() throws {
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: Self.smokeTransfer,
                with: """
                        transfer: {dataset: coldrec-smoke, models: [nextitnet, cprec-cb], epochs: 2, negatives: 10,
                                   scratch: {maxEpochs: 5, patience: 9, learningRates: [0.01]}}

                    """)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: dir.appendingPathComponent("profiles.yaml"), encoding: .utf8)
        var message = ""
        do { _ = try graph(dir) } catch { message = "\(error)" }
        #expect(
            message.contains("profiles.yaml:\(lineOf(text, "patience: 9"))")
                && message.contains("transfer.scratch.patience"), "\(message)")
    }
}
