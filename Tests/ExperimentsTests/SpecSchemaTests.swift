import Foundation
import Models
import Testing
@testable import Experiments

/// The error `pipeline all --profile smoke` reports for a copy of the specs with one file edited ("" = none).
private func errorAfterEditing(_ file: String, _ edit: (String) -> String) throws -> (text: String, error: String) {
    let dir = try specsCopy(editing: file, edit)
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
    do {
        _ = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        return (text, "")
    } catch {
        return (text, "\(error)")
    }
}

/// Every spec file goes through one decoder: the same `file:line: path: expected … (did you mean …)` everywhere.
@Suite struct SpecSchemaTests {
    @Test func misspeltChoiceGetsTheClosestValue() throws {
        let (text, error) = try errorAfterEditing("models.yaml") {
            $0.replacingOccurrences(of: "sharing: cross-layer}", with: "sharing: crosslayer}")
        }
        #expect(
            error.hasPrefix(
                "models.yaml:\(lineOf(text, "crosslayer")): models.cl-nextitnet.sharing: expected one of none | cross-layer"
            ), "\(error)")
        #expect(error.hasSuffix("found 'crosslayer' (did you mean 'cross-layer'?)"), "\(error)")
    }

    @Test func modelTrainingOverridesAreRangeCheckedAtTheirLine() throws {
        let (t1, e1) = try errorAfterEditing("models.yaml") {
            $0.replacingOccurrences(
                of: "training: {learningRate: 0.003, minEpochs: 8}",
                with: "training: {learningRate: 0.003, minEpochs: 0}")
        }
        #expect(
            e1
                == "models.yaml:\(lineOf(t1, "minEpochs: 0")): models.caser.training.minEpochs: expected an integer ≥ 1, found 0",
            "\(e1)")
        // The seed, split and selection rule are the profile's: a model cannot set them.
        let (t2, e2) = try errorAfterEditing("models.yaml") {
            $0.replacingOccurrences(
                of: "training: {learningRate: 0.003, minEpochs: 8}", with: "training: {learningRate: 0.003, seed: 3}")
        }
        #expect(
            e2.hasPrefix("models.yaml:\(lineOf(t2, "seed: 3")): models.caser.training.seed: unknown key 'seed'"),
            "\(e2)")
    }

    @Test func datasetRangeErrorsNameTheField() throws {
        let (text, error) = try errorAfterEditing("datasets.yaml") {
            $0.replacingOccurrences(
                of: "prep: {seqLength: 10, testFraction: 0.2, validFraction: 0.1, seed: 10}\n    blocks: {rule: mass",
                with: "prep: {seqLength: 10, testFraction: 1.5, validFraction: 0.1, seed: 10}\n    blocks: {rule: mass")
        }
        #expect(
            error
                == "datasets.yaml:\(lineOf(text, "testFraction: 1.5")): datasets.weishi-smoke.prep.testFraction: expected a number in [0, 1)",
            "\(error)")
    }

    @Test func experimentsFileIsStrict() throws {
        let (t1, e1) = try errorAfterEditing("experiments.yaml") {
            $0.replacingOccurrences(
                of: "columns: [MRR@5, HR@5, TT, Params(io)]", with: "columns: [MRR@5, HR@5, TT, Params(in)]")
        }
        #expect(
            e1.hasPrefix(
                "experiments.yaml:\(lineOf(t1, "Params(in)")): tables.table3.columns[3]: expected one of MRR@5 | HR@5"),
            "\(e1)")
        #expect(e1.hasSuffix("(did you mean 'Params(io)'?)"), "\(e1)")

        let (t2, e2) = try errorAfterEditing("experiments.yaml") {
            $0.replacingOccurrences(of: "  baseline: nextitnet\n", with: "  basline: nextitnet\n")
        }
        #expect(
            e2.hasPrefix(
                "experiments.yaml:\(lineOf(t2, "basline:")): roles.basline: unknown key 'basline' (did you mean 'baseline'?)"
            ), "\(e2)")

        let (t3, e3) = try errorAfterEditing("experiments.yaml") {
            $0.replacingOccurrences(of: "cprec: [cprec-cl, cprec-cb,", with: "cprec: [cprec-cl, cprec-cbb,")
        }
        #expect(
            e3
                == "experiments.yaml:\(lineOf(t3, "cprec-cbb")): roles.cprec[1]: unknown model 'cprec-cbb' (did you mean 'cprec-cb'?); models are declared in models.yaml",
            "\(e3)")
    }

    @Test func paperValuesAreCheckedBeforeAnyStageRuns() throws {
        let (text, error) = try errorAfterEditing("paper-values.yaml") {
            $0.replacingOccurrences(of: "column: HR@5, value: 0.1766", with: "colum: HR@5, value: 0.1766")
        }
        #expect(
            error.hasPrefix(
                "paper-values.yaml:\(lineOf(text, "colum: HR@5")): values[1].colum: unknown key 'colum' (did you mean 'column'?)"
            ), "\(error)")
    }

    @Test func profileTypeErrorsNameLineAndProfile() throws {
        let (t1, e1) = try errorAfterEditing("profiles.yaml") {
            $0.replacingOccurrences(of: "    seeds: 2\n", with: "    seeds: two\n")
        }
        #expect(
            e1 == "profiles.yaml:\(lineOf(t1, "seeds: two")): profiles.smoke.seeds: expected an integer, found 'two'",
            "\(e1)")

        let (t2, e2) = try errorAfterEditing("profiles.yaml") {
            $0.replacingOccurrences(of: "training: {batchSize: 16, maxEpochs: 8,", with: "training: {maxEpochs: 8,")
        }
        #expect(
            e2
                == "profiles.yaml:\(lineOf(t2, "training: {maxEpochs: 8,")): profiles.smoke.training: missing required key 'batchSize'",
            "\(e2)")

        let (t3, e3) = try errorAfterEditing("profiles.yaml") {
            $0.replacingOccurrences(of: "    seeds: 2\n", with: "    seeds: 0\n")
        }
        #expect(
            e3
                == "profiles.yaml:\(lineOf(t3, "seeds: 0")): profiles.smoke.seeds: expected an integer in 1...100, found 0",
            "\(e3)")
    }

    /// Model settings left out come from `ModelConfig` itself through a YAML round trip; a float in a cache key
    /// must survive it bit for bit.
    @Test func builtInAndWrittenDefaultsAreExact() throws {
        let specs = try SpecBundle.load(repositorySpecs)
        let gru = try specs.model("gru4rec", profile: try specs.profile("default")).config
        var expected = ModelConfig(kind: .gru4rec)
        expected.dim = 64
        expected.dilations = [1, 4, 1, 4]
        expected.blockFactor = 4
        expected.lowRank = 16
        #expect(gru == expected)

        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "model: {dim: 16, dilations", with: "model: {layerNormEps: 0.00001, dim: 16, dilations")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let edited = try SpecBundle.load(dir)
        #expect(try edited.model("nextitnet", profile: try edited.profile("smoke")).config.layerNormEps == Float(1e-5))
    }
}

@Suite struct LiteratureSpecTests {
    @Test func shippedLiteratureLoadsWithSourcesAndProtocols() throws {
        let lit = try #require(try LiteratureValues.load(in: repositorySpecs))
        let video = lit.values(dataset: "amazon-video", model: "sasrec")
        #expect(video.map(\.metric.rawValue).sorted() == ["HR@10", "NDCG@10"])
        #expect(video.allSatisfy { $0.rankingProtocol == .sampled100Uniform && !$0.source.paper.isEmpty })
    }

    @Test func badLiteratureEntriesFailWithFileLineAndKey() throws {
        let (t1, e1) = try errorAfterEditing("literature.yaml") {
            $0.replacingOccurrences(
                of: "metric: NDCG@10, value: 0.5360, protocol: sampled-100-uniform",
                with: "metric: NDCG@10, value: 0.5360, protocol: sampled-100")
        }
        #expect(
            e1.hasPrefix(
                "literature.yaml:\(lineOf(t1, "protocol: sampled-100,")): values[1].protocol: expected one of full | sampled-100-uniform"
            ), "\(e1)")
        let (t2, e2) = try errorAfterEditing("literature.yaml") {
            $0.replacingOccurrences(of: "metric: HR@10, value: 0.7410", with: "metric: HR@10, value: 74.10")
        }
        #expect(
            e2.hasPrefix("literature.yaml:\(lineOf(t2, "value: 74.10")): values[0].value: expected a number in [0, 1]"),
            "\(e2)")
        let (_, e3) = try errorAfterEditing("literature.yaml") {
            $0.replacingOccurrences(
                of: "{dataset: amazon-video, model: sasrec, metric: HR@10",
                with: "{dataset: amazon-video, model: sasrek, metric: HR@10")
        }
        #expect(e3.hasPrefix("literature.yaml: unknown model 'sasrek'"), "\(e3)")
    }
}
