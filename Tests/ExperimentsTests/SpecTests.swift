import Datasets
import Foundation
import Kernels
import Pipeline
import Testing
@testable import Experiments

@Suite struct SpecTests {
    @Test func shippedSpecsBuildEveryProfile() throws {
        let profiles = try Paper.profiles(specDirectory: repositorySpecs).map(\.name)
        #expect(
            profiles == ["smoke", "default", "weishi-20k", "movielens", "movielens-100k", "amazon-video", "amazon-beauty", "paper"])
        let specs = try SpecBundle.load(repositorySpecs)
        for p in profiles {
            let spec = try specs.profile(p)
            let stages = try Paper.graph(
                ExperimentOptions(
                    profile: p, specDirectory: repositorySpecs,
                    outputRoot: URL(fileURLWithPath: "/tmp")))
            let graph = try StageGraph(stages)
            let ids = Set(graph.ordered.map(\.id.raw))
            // Table 6 and Figure 1 only where the profile declares them (the Amazon profiles run neither); a table
            // only where a dataset of the profile takes part in it (Video Games: Tables 2 and 7).
            for t in ["table1", "table2", "table3", "table4", "table5", "table7"] {
                let measured = t == "table1" || !spec.datasets(inTable: t).isEmpty
                #expect(ids.contains("table/\(t)") == measured, "\(p): \(t)")
            }
            #expect(ids.contains("table/table6") == (spec.transfer != nil))
            for f in ["longtail", "pareto", "convergence"] + (spec.figure1 == nil ? [] : ["fig1"]) {
                #expect(ids.contains("figure/\(f)"), "\(p) lacks \(f)")
            }
            #expect(ids.contains("report/report"))
            // The scale map needs no data; profiles that declare a grid build it.
            #expect(ids.contains("figure/scalemap") == ["smoke", "default"].contains(p), "\(p): scale map")
        }
    }

    @Test func smokeGraphTrainsEveryTableModelOnEveryDataset() throws {
        let stages = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        let ids = Set(stages.map(\.id.raw))
        for ds in ["weishi-smoke", "mllatest-smoke"] {
            for m in [
                "mostpop", "gru4rec", "caser", "nextitnet", "cprec-cl", "cprec-cb", "cprec-al", "cprec-ab",
                "bi-nextitnet",
                "bo-nextitnet", "bio-nextitnet", "b1-nextitnet", "cl-nextitnet", "cb-nextitnet", "al-nextitnet",
                "ab-nextitnet", "bi-gru4rec", "bo-gru4rec", "bio-gru4rec", "sasrec", "bi-sasrec", "bo-sasrec",
                "bio-sasrec",
                "cprec-sasrec-cl", "cprec-sasrec-cb", "cprec-sasrec-al"
            ] {
                for seed in [10, 11] {
                    #expect(ids.contains("evaluate/\(ds)/\(m)/seed\(seed)"), "missing evaluate/\(ds)/\(m)/seed\(seed)")
                }
            }
        }
        // Figure 1's sweep point equal to the table's NextItNet reuses its run instead of training it twice.
        #expect(!ids.contains { $0.hasPrefix("train/mllatest-smoke/nextitnet-d16/") })
        #expect(ids.contains("train/mllatest-smoke/nextitnet-d32/seed11"))
        #expect(ids.contains("finetune/coldrec-smoke/cprec-cb-scratch/seed11"))
        #expect(ids.contains("oracle/weishi-smoke"))
    }

    /// A seed moves only its own model stages: the stages of seeds already in the profile keep their id,
    /// parameters and inputs (so their cache keys) when another seed is added.
    @Test func addingASeedAddsOnlyThatSeedsModelStages() throws {
        let two = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        let dir = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "    seeds: 2\n", with: "    seeds: 3\n")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let three = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        let before = Dictionary(uniqueKeysWithValues: two.map { ($0.id.raw, $0) })
        var added: [String] = []
        for s in three {
            guard let old = before[s.id.raw] else { added.append(s.id.raw); continue }
            let kind = s.id.kind
            if ["train", "evaluate", "finetune", "prep", "blocks", "fetch", "oracle"].contains(kind) {
                #expect(
                    old.parameters == s.parameters && old.inputs == s.inputs && old.version == s.version,
                    "\(s.id.raw) changed")
            }
        }
        #expect(!added.isEmpty)
        #expect(added.allSatisfy { $0.hasSuffix("/seed12") }, "\(added.filter { !$0.hasSuffix("/seed12") })")
    }

    /// The settings a train stage runs with come from the profile, under the model entry's own `training:`.
    @Test func trainingSettingsReachTheTrainer() throws {
        let dir = try specsCopy(editing: "models.yaml") {
            $0.replacingOccurrences(
                of: "cl-nextitnet:   {label: Cl-NextItNet, kind: nextitnet, sharing: cross-layer}",
                with:
                    "cl-nextitnet:   {label: Cl-NextItNet, kind: nextitnet, sharing: cross-layer, training: {learningRate: 0.0123, minEpochs: 2, patience: 7}}"
            )
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        let caser = try #require(stages.first { $0.id.raw == "train/weishi-smoke/cl-nextitnet/seed11" } as? TrainStage)
        let options = caser.trainOptions
        #expect(options.learningRate == Float(0.0123) && options.minEpochs == 2 && options.patience == 7)
        #expect(options.seed == 11 && options.batchSize == 16 && options.maxEpochs == 8)
        let nextitnet = try #require(stages.first { $0.id.raw == "train/weishi-smoke/nextitnet/seed10" } as? TrainStage)
        #expect(nextitnet.trainOptions.learningRate == Float(0.01) && nextitnet.trainOptions.seed == 10)
    }

    /// Stages whose outputs the engine computes carry its numerics revision in their version (so in their key):
    /// a cache filled by an older engine is retrained, never mixed in. Data and presentation stages do not.
    @Test func modelStagesFollowTheEngineRevision() throws {
        let stages = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        for s in stages {
            let kind = s.id.raw.split(separator: "/").first.map(String.init) ?? ""
            let follows = s.version / 1000 == EngineRevision.numerics
            if ["train", "evaluate", "finetune"].contains(kind) {
                #expect(follows, "\(s.id.raw) ignores the engine revision")
            }
            // The scale map times the engine's own layers, so it is retimed when the engine changes.
            if s.id.raw == "figure/scalemap" { #expect(follows); continue }
            if ["fetch", "prep", "blocks", "table", "figure", "oracle"].contains(kind) {
                #expect(!follows, "\(s.id.raw)")
            }
        }
    }

    /// Two OpenBLAS kernels round differently, so a model stage's key names the kernel it ran with: a cache shared by
    /// machines (or filled before `pipeline` chose the CPU's own kernel) never mixes their results.
    @Test func modelStagesKeyTheBLASKernel() throws {
        let stages = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        for s in stages {
            let kind = s.id.raw.split(separator: "/").first.map(String.init) ?? ""
            guard ["train", "evaluate", "finetune", "tune"].contains(kind) || s.id.raw == "figure/scalemap",
                case .object(let p) = s.parameters
            else { continue }
            #expect(p["numerics"] == .string(BLAS.numericsIdentity), "\(s.id.raw)")
        }
    }

    /// A kind's revision reaches the keys of that kind's model stages only: SASRec's masked-key fix retrains SASRec
    /// and CpRec-SASRec, and every NextItNet, GRU4Rec or Caser result stays cached.
    @Test func kindRevisionKeysOnlyThatKindsStages() throws {
        let stages = try Paper.graph(
            ExperimentOptions(
                profile: "smoke", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        var kindOf: [String: String] = [:]
        for s in stages where s.id.kind == "train" {
            guard case .object(let p) = s.parameters, case .object(let m)? = p["model"],
                case .string(let k)? = m["kind"]
            else { continue }
            kindOf[s.id.raw.replacingOccurrences(of: "train/", with: "")] = k
        }
        var seen: Set<String> = []
        for s in stages where ["train", "evaluate", "tune"].contains(s.id.kind) {
            guard case .object(let p) = s.parameters else { continue }
            let kind: String?
            if case .object(let m)? = p["model"], case .string(let k)? = m["kind"] {
                kind = k
            } else {
                kind = kindOf[s.id.raw.replacingOccurrences(of: "evaluate/", with: "")]
            }
            guard let kind else { continue }
            seen.insert(kind)
            let expected: JSONValue? = kind == "sasrec" ? .number(1) : nil
            #expect(p["kindRevision"] == expected, "\(s.id.raw)")
        }
        #expect(seen.isSuperset(of: ["sasrec", "nextitnet"]))
    }

    /// `sampledNegatives` reaches every evaluate stage's key and adds the literature table; a profile without it
    /// keeps its keys (no parameter) and has no such table.
    @Test func sampledNegativesReachEvaluationAndTheLiteratureTable() throws {
        let graph = { (p: String) in
            try Paper.graph(
                ExperimentOptions(profile: p, specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        }
        let smoke = try graph("smoke")
        #expect(smoke.contains { $0.id.raw == "table/literature" })
        for s in smoke where s.id.kind == "evaluate" {
            guard case .object(let p) = s.parameters else { continue }
            #expect(p["sampledNegatives"] == .number(20), "\(s.id.raw)")
        }
        let ml = try graph("movielens-100k")
        #expect(!ml.contains { $0.id.raw == "table/literature" })
        for s in ml where s.id.kind == "evaluate" {
            guard case .object(let p) = s.parameters else { continue }
            #expect(p["sampledNegatives"] == nil)
        }
        let bad = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "    sampledNegatives: 20\n", with: "    sampledNegatives: 0\n")
        }
        defer { try? FileManager.default.removeItem(at: bad) }
        #expect(throws: (any Error).self) {
            try Paper.graph(
                ExperimentOptions(profile: "smoke", specDirectory: bad, outputRoot: URL(fileURLWithPath: "/tmp")))
        }
    }

    /// A shipped download names its upstream host: a loopback address (once "http://127.0.0.1:/ml-1m.zip") would
    /// only work with --mirror, which is transport and belongs on the command line, not in the spec.
    @Test func shippedDownloadsPointAtRealHosts() throws {
        let catalog = try DatasetCatalog.load(repositorySpecs)
        var downloads = 0
        for name in catalog.order {
            guard case .download(let d) = try catalog.spec(name).source else { continue }
            downloads += 1
            let host = URLComponents(string: d.url)?.host ?? ""
            #expect(
                d.url.hasPrefix("https://") && !host.isEmpty && host != "localhost" && !host.hasPrefix("127.")
                    && host != "::1",
                "\(name): \(d.url)")
        }
        #expect(downloads >= 3)
    }

    @Test func profileDefaultsAreLayeredUnderModelEntries() throws {
        let specs = try SpecBundle.load(repositorySpecs)
        let smoke = try specs.profile("smoke")
        let cprec = try specs.model("cprec-cb", profile: smoke)
        #expect(cprec.config.dim == 16)
        #expect(
            cprec.config.input == .blockwise && cprec.config.output == .blockwise && cprec.config.sharing == .crossBlock
        )
        #expect(cprec.label == "CpRec-Cb")
    }

    @Test func unknownKeyNamesFileLineAndSuggestion() throws {
        let dir = try specsCopy(editing: "models.yaml") {
            $0.replacingOccurrences(
                of: "cprec-cb:       {label: CpRec-Cb, kind: nextitnet, input: blockwise",
                with: "cprec-cb:       {label: CpRec-Cb, kind: nextitnet, inptu: blockwise")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: SpecError.self) { try SpecBundle.load(dir) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("models.yaml:"))
        #expect(text.contains("models.cprec-cb"))
        #expect(text.contains("unknown key 'inptu'"))
        #expect(text.contains("did you mean 'input'"))
    }

    @Test func badValuesAndReferencesAreRejected() throws {
        let badSharing = try specsCopy(editing: "models.yaml") {
            $0.replacingOccurrences(of: "sharing: cross-layer}", with: "sharing: crosslayer}")
        }
        defer { try? FileManager.default.removeItem(at: badSharing) }
        #expect(throws: SpecError.self) { try SpecBundle.load(badSharing) }

        let badRow = try specsCopy(editing: "experiments.yaml") {
            $0.replacingOccurrences(of: "rows: [gru4rec, bi-gru4rec", with: "rows: [gru5rec, bi-gru4rec")
        }
        defer { try? FileManager.default.removeItem(at: badRow) }
        let e = #expect(throws: SpecError.self) { try SpecBundle.load(badRow) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("unknown model 'gru5rec'"))

        let badDataset = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(
                of: "datasets: [weishi-smoke, mllatest-smoke]", with: "datasets: [weishi-smoek, mllatest-smoke]")
        }
        defer { try? FileManager.default.removeItem(at: badDataset) }
        let e2 = #expect(throws: SpecError.self) {
            try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: badDataset, outputRoot: badDataset))
        }
        #expect("\(e2.map { "\($0)" } ?? "")".contains("did you mean 'weishi-smoke'"))

        let badYAML = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "profiles:", with: "profiles: [")
        }
        defer { try? FileManager.default.removeItem(at: badYAML) }
        let e3 = #expect(throws: SpecError.self) { try SpecBundle.load(badYAML) }
        #expect("\(e3.map { "\($0)" } ?? "")".contains("profiles.yaml"))
    }

    @Test func speedupReferenceIsDeclaredPerTable() throws {
        let specs = try SpecBundle.load(repositorySpecs)
        #expect(specs.tables.first { $0.name == "table7" }?.reference == "sasrec")
        #expect(specs.tables.filter { $0.name != "table7" }.allSatisfy { $0.reference == "nextitnet" })
        // Table 7's rows are timed against SASRec, every other model against NextItNet.
        let graph = try Paper.graph(
            ExperimentOptions(profile: "smoke", specDirectory: repositorySpecs, outputRoot: repositorySpecs))
        let evaluations = graph.compactMap { $0 as? EvaluateStage }
        let bio = try #require(evaluations.first { $0.model.name == "bio-sasrec" })
        #expect(bio.baseline?.name == "sasrec")
        #expect(evaluations.first { $0.model.name == "sasrec" }?.baseline == nil)
        #expect(evaluations.first { $0.model.name == "cprec-cb" }?.baseline?.name == "nextitnet")

        let unknown = try specsCopy(editing: "experiments.yaml") {
            $0.replacingOccurrences(of: "reference: sasrec", with: "reference: sasrek")
        }
        defer { try? FileManager.default.removeItem(at: unknown) }
        let e = #expect(throws: SpecError.self) { try SpecBundle.load(unknown) }
        #expect(
            "\(e.map { "\($0)" } ?? "")".contains(
                "tables.table7.reference: unknown model 'sasrek' (did you mean 'sasrec'?)"))

        // One model in two tables with different references cannot be timed against both.
        let clash = try specsCopy(editing: "experiments.yaml") {
            $0.replacingOccurrences(of: "rows: [sasrec, bi-sasrec", with: "rows: [sasrec, gru4rec, bi-sasrec")
        }
        defer { try? FileManager.default.removeItem(at: clash) }
        let e2 = #expect(throws: SpecError.self) { try SpecBundle.load(clash) }
        #expect("\(e2.map { "\($0)" } ?? "")".contains("'gru4rec' is also in table2"))
    }

    @Test func unknownProfileListsTheDeclaredOnes() throws {
        let e = #expect(throws: SpecError.self) {
            try Paper.graph(
                ExperimentOptions(
                    profile: "nope", specDirectory: repositorySpecs, outputRoot: URL(fileURLWithPath: "/tmp")))
        }
        #expect(
            "\(e.map { "\($0)" } ?? "")".contains(
                "smoke, default, weishi-20k, movielens, movielens-100k, amazon-video, amazon-beauty, paper"))
    }
}
