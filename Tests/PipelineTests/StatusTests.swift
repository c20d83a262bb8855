import Foundation
import Testing
@testable import Pipeline

@Suite struct StatusTests {
    let dir = temporaryDirectory()

    func stages(lr: Double = 0.001, version: Int = 1, file: URL, rec: Recorder) -> [any Stage] {
        var prep = TestStage("prep/data", recorder: rec)
        prep.fileInputs = [file]
        prep.body = { c in
            try FileManager.default.copyItem(at: file, to: c.outputDirectory.appendingPathComponent("out.txt"))
        }
        var train = TestStage(
            "train/model", inputs: ["prep/data"], parameters: ["lr": .number(lr), "dims": [64, 128]],
            recorder: rec)
        train.version = version
        return [prep, train, TestStage("eval/model", inputs: ["train/model"], recorder: rec)]
    }

    @Test func statusNamesWhatChanged() throws {
        let rec = Recorder()
        let file = dir.appendingPathComponent("data.txt")
        try "rows".write(to: file, atomically: true, encoding: .utf8)
        let before = try engine(stages(file: file, rec: rec), dir).status()
        #expect(before.map(\.state) == [.missing, .missing, .missing])
        #expect(before[0].summary == "missing (never run)")

        _ = try run(stages(file: file, rec: rec), dir)
        #expect(try engine(stages(file: file, rec: rec), dir).status().allSatisfy { $0.state == .fresh })

        let changedParam = try engine(stages(lr: 0.002, file: file, rec: rec), dir).status()
        #expect(changedParam[0].state == .fresh)
        #expect(changedParam[1].state == .stale)
        #expect(changedParam[1].summary == "stale: parameter lr: 0.001 -> 0.002")
        #expect(changedParam[2].state == .stale)
        #expect(changedParam[2].waitingFor == ["train/model"])
        #expect(changedParam[2].summary.contains("input train/model not fresh"))

        let changedVersion = try engine(stages(version: 2, file: file, rec: rec), dir).status()
        #expect(changedVersion[1].summary == "stale: version changed: 1 -> 2")

        try "other rows".write(to: file, atomically: true, encoding: .utf8)
        let changedFile = try engine(stages(file: file, rec: rec), dir).status()
        #expect(changedFile[0].summary == "stale: input file data.txt changed")
        #expect(changedFile[1].waitingFor == ["prep/data"])

        // After the rerun, downstream staleness is explained by the changed upstream outputs.
        _ = try run(stages(file: file, rec: rec), dir, ["prep/data"])
        let afterUpstream = try engine(stages(file: file, rec: rec), dir).status()
        #expect(afterUpstream[1].summary == "stale: input prep/data produced different outputs")
    }

    @Test func planListsWhatWouldRunWithReasonsAndEstimates() throws {
        let rec = Recorder()
        let file = dir.appendingPathComponent("data.txt")
        try "rows".write(to: file, atomically: true, encoding: .utf8)
        let e0 = try engine(stages(file: file, rec: rec), dir)
        let first = try e0.plan(nil)
        #expect(first.map(\.id) == ["prep/data", "train/model", "eval/model"])
        #expect(first.allSatisfy { $0.certain && $0.estimatedSeconds == nil })
        #expect(!FileManager.default.fileExists(atPath: e0.store.root.path))  // planning writes nothing

        _ = try run(stages(file: file, rec: rec), dir)
        #expect(try engine(stages(file: file, rec: rec), dir).plan(nil).isEmpty)

        let e = try engine(stages(lr: 0.01, file: file, rec: rec), dir)
        let p = try e.plan(nil)
        #expect(p.map(\.id) == ["train/model", "eval/model"])
        #expect(p[0].certain && p[0].reason.contains("parameter lr"))
        #expect(p[0].estimatedSeconds != nil)
        #expect(!p[1].certain && p[1].reason.contains("if train/model change"))

        let forced = try engine(stages(file: file, rec: rec), dir).plan(["prep/data"], force: true)
        #expect(forced.map(\.id) == ["prep/data"] && forced[0].reason == "forced")
    }

    @Test func tablesRequireFreshUpstream() throws {
        let rec = Recorder()
        let all: [any Stage] = [
            TestStage("train/m", recorder: rec),
            TestStage("table/t1", inputs: ["train/m"], recorder: rec),
            TestStage("report/r", inputs: ["table/t1"], recorder: rec)
        ]
        let e = try engine(all, dir)
        #expect(throws: PipelineError.self) {
            try e.requireFreshUpstream(ofKinds: ["table", "report"], remedy: "run everything first")
        }
        do {
            _ = try e.requireFreshUpstream(ofKinds: ["table", "report"], remedy: "run everything first")
        } catch {
            #expect("\(error)".contains("run everything first") && "\(error)".contains("train/m"))
        }
        _ = try run(all, dir, ["train/m"])
        #expect(
            try e.requireFreshUpstream(ofKinds: ["table", "report"], remedy: "run everything first") == [
                "table/t1", "report/r"
            ])
    }

    @Test func graphErrorsAreClear() throws {
        let rec = Recorder()
        func message(_ stages: [any Stage]) -> String {
            do { _ = try StageGraph(stages); return "" } catch { return "\(error)" }
        }
        let cycle = message([
            TestStage("a/x", inputs: ["c/z"], recorder: rec),
            TestStage("b/y", inputs: ["a/x"], recorder: rec),
            TestStage("c/z", inputs: ["b/y"], recorder: rec),
            TestStage("d/ok", recorder: rec)
        ])
        #expect(cycle == "the stage graph has a cycle: a/x -> b/y -> c/z -> a/x")
        #expect(message([TestStage("a/x", inputs: ["a/x"], recorder: rec)]).contains("a/x -> a/x"))
        #expect(
            message([TestStage("a/x", recorder: rec), TestStage("a/x", recorder: rec)]) == "duplicate stage id 'a/x'")
        #expect(
            message([TestStage("a/x", inputs: ["a/y"], recorder: rec), TestStage("a/z", recorder: rec)])
                .contains("declares input 'a/y', which is not a stage"))
        #expect(message([TestStage("_index/x", recorder: rec)]).contains("not start with '_'"))
        var badOutput = TestStage("a/x", recorder: rec)
        badOutput.outputs = ["sub/out.txt"]
        #expect(message([badOutput]).contains("must be a plain file or folder name"))
        var badPublish = TestStage("a/x", recorder: rec)
        badPublish.publishes = ["other.txt": "t.txt"]
        #expect(message([badPublish]).contains("publishes 'other.txt', which is not one of its outputs"))
        badPublish.publishes = ["out.txt": "../t.txt"]
        #expect(message([badPublish]).contains("must be relative"))
        var p1 = TestStage("a/x", recorder: rec), p2 = TestStage("a/y", recorder: rec)
        p1.publishes = ["out.txt": "t.txt"]
        p2.publishes = ["out.txt": "t.txt"]
        #expect(message([p1, p2]) == "stages 'a/x' and 'a/y' both publish 't.txt'")
    }

    @Test func unknownGlobErrorsWithCloseMatchesAndWritesNothing() throws {
        let rec = Recorder()
        let stages: [any Stage] = [
            TestStage("train/ml/cprec-cb", recorder: rec),
            TestStage("train/ml/nextitnet", recorder: rec),
            TestStage("figure/fig1", recorder: rec)
        ]
        let e = try engine(stages, dir)
        var msg = ""
        do { _ = try e.run(["trian/ml/cprec-cb"], options: RunOptions()) } catch { msg = "\(error)" }
        #expect(msg.hasPrefix("no stage matches 'trian/ml/cprec-cb'; close matches: train/ml/cprec-cb"))
        do { _ = try e.run(["figure/fig9*"], options: RunOptions()) } catch { msg = "\(error)" }
        #expect(msg.contains("figure/fig1"))
        do { _ = try e.run(["figure/fig1", "nope"], options: RunOptions()) } catch { msg = "\(error)" }
        #expect(msg.hasPrefix("no stage matches 'nope'"))
        #expect(rec.count("figure/fig1") == 0)
        #expect(!FileManager.default.fileExists(atPath: e.store.root.path))
    }

    @Test func dagFormats() throws {
        let rec = Recorder()
        let e = try engine(
            [TestStage("prep/a", recorder: rec), TestStage("train/b", inputs: ["prep/a"], recorder: rec)], dir)
        #expect(try e.dag(format: "text") == "prep/a\ntrain/b  <- prep/a\n")
        #expect(try e.dag(format: "dot").contains("\"prep/a\" -> \"train/b\";"))
        #expect(try e.dag(format: "mermaid").contains("n0 --> n1"))
        #expect(throws: PipelineError.self) { try e.dag(format: "svg") }
    }

    @Test func cleanKeepsCurrentResultsOrRemovesAll() throws {
        let rec = Recorder()
        func stages(_ lr: Double) -> [any Stage] {
            [TestStage("train/a", parameters: ["lr": .number(lr)], recorder: rec), TestStage("prep/b", recorder: rec)]
        }
        _ = try run(stages(0.1), dir)
        _ = try run(stages(0.2), dir)
        let outside = dir.appendingPathComponent("results/keep.txt")
        try FileManager.default.createDirectory(
            at: outside.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "mine".write(to: outside, atomically: true, encoding: .utf8)
        let e = try engine(stages(0.2), dir)
        let kept = try e.clean(keepResults: true)
        #expect(kept.removedEntries == 1 && kept.keptEntries == 2)
        #expect(e.status().allSatisfy { $0.state == .fresh })
        #expect(try engine(stages(0.1), dir).status()[1].state != .fresh)  // train/a at 0.1 was pruned

        // A lock left by a killed run goes too; a held one stays.
        let deadKey = String(repeating: "a", count: 64), liveKey = String(repeating: "b", count: 64)
        let dead = LockOwner(pid: 1, host: "elsewhere", heartbeat: 0, started: "", token: "d")
        #expect(try CacheLock.tryCreate(e.store.lock(kind: "train", key: deadKey), owner: dead))
        let live = try CacheLock.acquire(e.store.lock(kind: "train", key: liveKey), staleAfter: 600)
        defer { live.release() }

        let all = try e.clean(keepResults: false)
        #expect(!FileManager.default.fileExists(atPath: e.store.lock(kind: "train", key: deadKey).path))
        #expect(FileManager.default.fileExists(atPath: e.store.lock(kind: "train", key: liveKey).path))
        #expect(all.removedEntries == 2 && all.removedBytes > 0)
        #expect(e.status().allSatisfy { $0.state == .missing })
        #expect(FileManager.default.fileExists(atPath: outside.path))
        #expect(FileManager.default.fileExists(atPath: e.store.root.appendingPathComponent("CACHEDIR.TAG").path))
    }

    @Test func cacheRootResolution() {
        let cwd = URL(fileURLWithPath: "/tmp/x")
        #expect(
            CacheStore.resolveRoot(option: nil, environmentVariable: "CPREC_CACHE_DIR", environment: [:], cwd: cwd).path
                == "/tmp/x/.cache")
        #expect(
            CacheStore.resolveRoot(
                option: nil, environmentVariable: "CPREC_CACHE_DIR", environment: ["CPREC_CACHE_DIR": "/data/c"],
                cwd: cwd
            ).path == "/data/c")
        #expect(
            CacheStore.resolveRoot(
                option: "c2", environmentVariable: "CPREC_CACHE_DIR", environment: ["CPREC_CACHE_DIR": "/data/c"],
                cwd: cwd
            ).path == "/tmp/x/c2")
        #expect(CacheStore.escape("train/ml/cprec-cb") == "train%2Fml%2Fcprec-cb")
    }

    @Test func manyWaitingInputsAreCountedNotListed() {
        let waiting = (1...200).map { StageID("evaluate/d/m/seed\($0)") }
        let status = StageStatus(
            id: "table/t", state: .missing, reasons: ["never run"], waitingFor: waiting, key: nil,
            outputHash: nil, lastSeconds: nil)
        #expect(
            status.summary
                == "missing (never run; inputs evaluate/d/m/seed1, evaluate/d/m/seed2, evaluate/d/m/seed3 and 197 more not fresh)"
        )
    }
}
