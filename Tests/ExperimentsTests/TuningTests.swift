import Foundation
import Pipeline
import Testing
@testable import Experiments

/// The smoke profile with a `tuning:` section (the shipped smoke profile has none, so its keys stay as they were).
private func tunedSmoke(_ tuning: String) throws -> URL {
    try specsCopy(editing: "profiles.yaml") {
        $0.replacingOccurrences(
            of: "    scaleMap: {vocabularies: [200, 1000], dims: [16, 32], budget: 0.02}\n",
            with: "    scaleMap: {vocabularies: [200, 1000], dims: [16, 32], budget: 0.02}\n" + tuning)
    }
}

private let smokeTuning = """
        tuning:
          seed: 77
          space: {learningRate: [0.003, 0.01], l2: [0, 0.001]}
          maxEpochs: 3
          models: [nextitnet, caser]
          inherit: {bi-nextitnet: nextitnet}

    """

private func graph(_ dir: URL) throws -> [String: any Stage] {
    let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
    return Dictionary(uniqueKeysWithValues: stages.map { ($0.id.raw, $0) })
}

private func loadError(_ dir: URL) -> String {
    do { _ = try graph(dir); return "" } catch { return "\(error)" }
}

@Suite struct TuningTests {
    /// The choice is the best validation MRR@5; a tie keeps the earlier trial and a NaN never wins.
    @Test func choiceIsTheBestValidationTrial() {
        func trial(_ v: Double) -> TuneTrial {
            TuneTrial(values: TunedValues(["l2": v]), validMRR5: v, bestEpoch: 1, epochs: 1, seconds: 0)
        }
        #expect(TuneStage.choose([0.1, 0.3, 0.3, 0.2].map(trial)) == 1)
        #expect(TuneStage.choose([.nan, 0.05].map(trial)) == 1)
        #expect(TuneStage.choose([Double.nan].map(trial)) == nil)
    }

    /// A space whose answer is known: a learning rate of 1e-8 cannot move NextItNet off its initial weights in
    /// two epochs, 0.01 can. The tune stage must pick 0.01, and the final train stage must train with it.
    @Test func tuneStagePicksTheKnownBestAndTheTrainerUsesIt() throws {
        let dir = try tunedSmoke(
            """
                tuning:
                  seed: 77
                  space: {learningRate: [0.00000001, 0.01]}
                  maxEpochs: 2
                  models: [nextitnet]

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = try temporaryDirectory("tune-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: cache))
        let store = CacheStore(root: cache.appendingPathComponent(".cache"))
        let engine = try Engine(stages: stages, store: store)
        let summary = try engine.run(
            ["train/weishi-smoke/nextitnet/seed10"], options: RunOptions(jobs: 1, threads: 1, outputRoot: cache))
        #expect(summary.succeeded)
        let tuneEntry = try #require(engine.status().first { $0.id.raw == "tune/weishi-smoke/nextitnet" }?.key)
        let record = try TuneStage.load(store.outputs(kind: "tune", key: tuneEntry))
        #expect(record.trials.count == 2)
        #expect(
            record.chosen == TunedValues(["learningRate": 0.01]),
            "\(record.trials.map { ($0.values.description, $0.validMRR5) })")
        #expect(record.trials[1].validMRR5 > record.trials[0].validMRR5 + 0.02)
        #expect(record.untuned == TunedValues(["learningRate": 0.01]))
        let trainKey = try #require(engine.status().first { $0.id.raw == "train/weishi-smoke/nextitnet/seed10" }?.key)
        let trained = try JSONFiles.read(
            TrainRecord.self,
            from: store.outputs(kind: "train", key: trainKey).appendingPathComponent(TrainStage.recordName))
        #expect(trained.tuned == record.chosen)
    }

    /// Tuned values reach the trainer's options (training keys) and the model configuration (config keys), and the
    /// train stage's key follows the tune stage's output.
    @Test func tunedValuesReachTrainOptionsConfigAndKey() throws {
        let dir = try tunedSmoke(smokeTuning)
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = try graph(dir)
        let train = try #require(stages["train/weishi-smoke/bi-nextitnet/seed11"] as? TrainStage)
        #expect(train.tune == StageID("tune/weishi-smoke/nextitnet"), "bi-nextitnet inherits NextItNet's choice")
        let options = train.trainOptions(tuned: TunedValues(["learningRate": 0.0042, "l2": 0.0005]))
        #expect(options.learningRate == Float(0.0042) && options.l2 == Float(0.0005) && options.seed == 11)
        #expect(train.trainOptions.learningRate == Float(0.01) && train.trainOptions.l2 == 0)
        let config = try TunedValues(["dropout": 0.25, "learningRate": 0.1]).apply(to: train.model.config)
        #expect(config.dropout == 0.25 && config.dim == train.model.config.dim)

        var hashes = Dictionary(uniqueKeysWithValues: train.inputs.map { ($0, "h-\($0.raw)") })
        let before = try KeyMaterial.of(train, inputHashes: hashes).key
        hashes[StageID("tune/weishi-smoke/nextitnet")] = "another choice"
        #expect(try KeyMaterial.of(train, inputHashes: hashes).key != before)
        #expect(stages["train/weishi-smoke/mostpop/seed10"].map { ($0 as! TrainStage).tune == nil } == true)
    }

    /// Changing the space changes the tune stages' parameters and nothing else's key material; tuning one model
    /// changes only that model's (and its inheritors') train stages and the report against an untuned profile.
    @Test func changingTheSpaceTouchesOnlyTuneStages() throws {
        let a = try tunedSmoke(smokeTuning)
        let b = try tunedSmoke(smokeTuning.replacingOccurrences(of: "l2: [0, 0.001]", with: "l2: [0, 0.01]"))
        defer { for d in [a, b] { try? FileManager.default.removeItem(at: d) } }
        let ga = try graph(a), gb = try graph(b), plain = try graph(repositorySpecs)
        #expect(Set(ga.keys) == Set(gb.keys))
        var changed: [String] = []
        for (id, s) in ga
        where s.parameters != gb[id]!.parameters || s.inputs != gb[id]!.inputs || s.version != gb[id]!.version {
            changed.append(id)
        }
        #expect(
            changed.sorted() == [
                "tune/mllatest-smoke/caser", "tune/mllatest-smoke/nextitnet",
                "tune/weishi-smoke/caser", "tune/weishi-smoke/nextitnet"
            ])
        // Against no tuning at all: only the tuned models' train stages gain an input, and the report reads the tunes.
        var touched: [String] = []
        for (id, s) in plain
        where s.parameters != ga[id]!.parameters || s.inputs != ga[id]!.inputs || s.version != ga[id]!.version {
            touched.append(id)
        }
        let expected = touched.filter { id in
            id == "report/report"
                || ["nextitnet", "caser", "bi-nextitnet"].contains {
                    id.contains("/\($0)/seed") || id.contains("/\($0)-d") || id.contains("/\($0)-r")
                }
        }
        #expect(touched.sorted() == expected.sorted())
        #expect(
            touched.contains("train/weishi-smoke/caser/seed10")
                && touched.contains("train/mllatest-smoke/bi-nextitnet/seed11"))
        #expect(!touched.contains { $0.hasPrefix("train/weishi-smoke/cprec-cb/") || $0.hasPrefix("evaluate/") })
    }

    /// A family's own keys (SASRec's dropout) join its grid only; every family keeps the same number of trials, and
    /// the other families' trials, and so their keys, are what they were without the family space.
    @Test func aFamilySpaceAddsKeysAtTheSameTrialCount() throws {
        let base = """
                tuning:
                  seed: 77
                  space: {learningRate: [0.003, 0.01], l2: [0, 0.001]}
                  maxEpochs: 3
                  models: [nextitnet, sasrec]

            """
        let plain = try tunedSmoke(base)
        let family = try tunedSmoke(base + "      familySpace: {sasrec: {dropout: [0, 0.2, 0.5]}}\n")
        defer { for d in [plain, family] { try? FileManager.default.removeItem(at: d) } }
        let gp = try graph(plain), gf = try graph(family)
        let next = try #require(gf["tune/weishi-smoke/nextitnet"] as? TuneStage)
        let sas = try #require(gf["tune/weishi-smoke/sasrec"] as? TuneStage)
        #expect(next.trials.count == 4 && sas.trials.count == 4)
        #expect(next.parameters == gp["tune/weishi-smoke/nextitnet"]!.parameters)
        #expect(sas.parameters != gp["tune/weishi-smoke/sasrec"]!.parameters)
        #expect(
            sas.trials.allSatisfy { $0.values["dropout"] != nil }
                && next.trials.allSatisfy { $0.values["dropout"] == nil })
        #expect(sas.space.map(\.key) == ["learningRate", "l2", "dropout"])
        // The sample is drawn from the 12-point grid, distinct points, reproducible.
        #expect(Set(sas.trials.map(\.values)).count == 4)
        #expect(
            try (graph(family)["tune/weishi-smoke/sasrec"] as? TuneStage)?.trials.map(\.values)
                == sas.trials.map(\.values))
    }

    /// `untuned:` adds an untuned twin of each named model (no tune input, the spec's own settings) whose runs the
    /// report reads beside the tuned ones; a model that is not tuned on its own cannot be named.
    @Test func untunedTwinsTrainWithoutTheirTuneStage() throws {
        let dir = try tunedSmoke(smokeTuning + "      untuned: {models: [nextitnet], datasets: [mllatest-smoke]}\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = try graph(dir)
        let twin = try #require(stages["train/mllatest-smoke/nextitnet-untuned/seed11"] as? TrainStage)
        let tuned = try #require(stages["train/mllatest-smoke/nextitnet/seed11"] as? TrainStage)
        #expect(twin.tune == nil && tuned.tune != nil)
        #expect(twin.parameters == tuned.parameters, "the twin differs only by its missing tune input")
        #expect(stages["train/weishi-smoke/nextitnet-untuned/seed10"] == nil)
        let report = try #require(stages["report/report"] as? ReportStage)
        #expect(report.inputs.contains(StageID("evaluate/mllatest-smoke/nextitnet-untuned/seed10")))

        let bad = try tunedSmoke(smokeTuning + "      untuned: {models: [bi-nextitnet], datasets: [mllatest-smoke]}\n")
        defer { try? FileManager.default.removeItem(at: bad) }
        let text = try String(contentsOf: bad.appendingPathComponent("profiles.yaml"), encoding: .utf8)
        let error = loadError(bad)
        #expect(
            error.contains("profiles.yaml:\(lineOf(text, "untuned: {models: [bi-nextitnet]"))")
                && error.contains("not tuned on its own"), "\(error)")
    }

    /// Bad tuning sections fail at load with the file, line and key path.
    @Test(arguments: [
        (
            "space: {learningRate: [0.003, 0.01], l2: [0, 0.001]}",
            "space: {learningrate: [0.003, 0.01], l2: [0, 0.001]}",
            "learningrate: [", "tuning.space.learningrate", "did you mean 'learningRate'"
        ),
        ("seed: 77", "seed: 11", "seed: 11", "tuning.seed", "not one of the profile's final seeds"),
        ("maxEpochs: 3", "maxEpochs: 3\n      trials: 5", "trials: 5", "tuning.trials", "1...4"),
        (
            "inherit: {bi-nextitnet: nextitnet}", "inherit: {bi-nextitnet: sasrec}", "inherit: {bi-nextitnet: sasrec}",
            "tuning.inherit.bi-nextitnet", "not tuned on its own"
        ),
        (
            "models: [nextitnet, caser]", "models: [nextitnet, casr]", "models: [nextitnet, casr]", "tuning.models[1]",
            "unknown model 'casr'"
        ),
        ("l2: [0, 0.001]", "l2: [0, 0.001], dropout: [0, 1.5]", "dropout: [0, 1.5]", "tuning.space.dropout", "[0, 1)"),
        ("maxEpochs: 3", "maxEpochs: 3\n      budget: 2", "budget: 2", "tuning", "unknown key 'budget'"),
        (
            "maxEpochs: 3", "maxEpochs: 3\n      familySpace: {sasrc: {dropout: [0, 0.2]}}", "familySpace: {sasrc",
            "tuning.familySpace.sasrc", "unknown model family 'sasrc'"
        ),
        (
            "maxEpochs: 3", "maxEpochs: 3\n      familySpace: {sasrec: {l2: [0.1]}}", "familySpace: {sasrec: {l2",
            "tuning.familySpace.sasrec.l2", "already in tuning.space"
        ),
        (
            "maxEpochs: 3", "maxEpochs: 3\n      familySpace: {sasrec: {dropout: [0, 1.5]}}",
            "familySpace: {sasrec: {dropout",
            "tuning.familySpace.sasrec.dropout", "[0, 1)"
        )
    ])
    func badTuningSectionsAreRejected(_ c: (String, String, String, String, String)) throws {
        let dir = try tunedSmoke(smokeTuning.replacingOccurrences(of: c.0, with: c.1))
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: dir.appendingPathComponent("profiles.yaml"), encoding: .utf8)
        let error = loadError(dir)
        #expect(error.contains("profiles.yaml:\(lineOf(text, c.2))"), "\(error)")
        #expect(error.contains(c.3) && error.contains(c.4), "\(error)")
    }
}
