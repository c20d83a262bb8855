import Foundation
import Testing
@testable import Pipeline

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}

@Suite struct RunnerTests {
    let dir = temporaryDirectory()

    @Test func runsOnceThenNothingToDo() throws {
        let rec = Recorder()
        let stages: [any Stage] = [
            TestStage("prep/a", recorder: rec),
            TestStage("train/b", inputs: ["prep/a"], parameters: ["lr": 0.1], recorder: rec)
        ]
        let first = try run(stages, dir)
        #expect(first.ran == ["prep/a", "train/b"])
        #expect(first.line == "2 ran, 0 cached, 0 failed, 0 skipped")
        let second = try run(stages, dir)
        #expect(second.ran.isEmpty)
        #expect(second.line == "nothing to do: all 2 stages fresh (0 executed)")
        #expect(rec.count("train/b") == 1)
        // The downstream stage read its input through the context.
        let e = try engine(stages, dir)
        let key = e.status().last!.key!
        let text = try String(
            contentsOf: e.store.outputs(kind: "train", key: key).appendingPathComponent("out.txt"), encoding: .utf8)
        #expect(text.contains("prep/a {}"))
        let manifest = try JSONDecoder().decode(
            Manifest.self,
            from: Data(contentsOf: e.store.entry(kind: "train", key: key).appendingPathComponent("manifest.json")))
        #expect(manifest.material.parameters == ["lr": 0.1])
        let raw = try String(
            contentsOf: e.store.entry(kind: "train", key: key).appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(raw.contains(#""id" : "train/b""#) && raw.contains(#""lr" : 0.1"#))
        #expect(manifest.threads >= 1 && manifest.outputs.map(\.name) == ["out.txt"])
    }

    @Test func crashMidWriteLeavesNoEntryAndNextRunRedoes() throws {
        let rec = Recorder()
        var s = TestStage("train/a", recorder: rec)
        s.body = { c in
            try "half".write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
            try "epoch 3".write(
                to: c.workDirectory.appendingPathComponent("checkpoint"), atomically: true, encoding: .utf8)
            throw Boom()
        }
        let failed = try run([s], dir)
        #expect(failed.failed == ["train/a"] && !failed.succeeded)
        let e = try engine([s], dir)
        let key = try KeyMaterial.of(s, inputHashes: [:]).key
        #expect(e.store.check(kind: "train", key: key) == .missing)
        let kindDir = e.store.root.appendingPathComponent("train")
        #expect(try FileManager.default.contentsOfDirectory(atPath: kindDir.path).isEmpty)  // no temp, no lock
        let log = try String(contentsOf: e.store.failedLog("train/a"), encoding: .utf8)
        #expect(log.contains("FAILED: boom"))
        #expect(e.status()[0].state == .missing)

        // The next run finds the checkpoint left in the work area and finishes.
        s.body = { c in
            let checkpoint = try String(
                contentsOf: c.workDirectory.appendingPathComponent("checkpoint"), encoding: .utf8)
            try "resumed from \(checkpoint)".write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        let second = try run([s], dir)
        #expect(second.ran == ["train/a"])
        let out = try String(
            contentsOf: e.store.outputs(kind: "train", key: key).appendingPathComponent("out.txt"), encoding: .utf8)
        #expect(out == "resumed from epoch 3")
        #expect(!FileManager.default.fileExists(atPath: e.store.work(kind: "train", key: key).path))
        #expect(!FileManager.default.fileExists(atPath: e.store.failedLog("train/a").path))
    }

    @Test func missingOrUndeclaredOutputsFailTheStage() throws {
        let rec = Recorder()
        var missing = TestStage("a/missing", recorder: rec)
        missing.body = { _ in }
        var extra = TestStage("a/extra", recorder: rec)
        extra.body = { c in
            try "x".write(to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
            try "y".write(to: c.outputDirectory.appendingPathComponent("stray.txt"), atomically: false, encoding: .utf8)
        }
        let summary = try run([missing, extra], dir)
        #expect(summary.failed.count == 2)
        let messages = summary.outcomes.map { "\($0.outcome)" }.joined()
        #expect(messages.contains("did not write declared output(s) out.txt"))
        #expect(messages.contains("wrote undeclared output(s) stray.txt"))
    }

    @Test func failureSkipsDependantsAndOthersFinish() throws {
        let rec = Recorder()
        var bad = TestStage("prep/bad", recorder: rec)
        bad.body = { _ in throw Boom() }
        let stages: [any Stage] = [
            bad,
            TestStage("train/child", inputs: ["prep/bad"], recorder: rec),
            TestStage("eval/grandchild", inputs: ["train/child"], recorder: rec),
            TestStage("prep/good", recorder: rec)
        ]
        let out = Captured()
        let s = try run(stages, dir, jobs: 2, console: out.console)
        #expect(s.failed == ["prep/bad"])
        #expect(s.ran == ["prep/good"])
        #expect(s.skipped.sorted() == ["eval/grandchild", "train/child"])
        #expect(s.outcomes.first { $0.id == "eval/grandchild" }?.outcome == .skipped(upstream: "prep/bad"))
        #expect(s.line == "1 ran, 0 cached, 1 failed, 2 skipped")
        #expect(rec.count("train/child") == 0)
        #expect(out.text.contains("FAIL  prep/bad: boom"))
        #expect(out.text.contains("log: "))
    }

    @Test func earlyCutoffKeepsDownstreamCached() throws {
        let rec = Recorder()
        var up = TestStage("prep/a", parameters: ["comment": "v1"], recorder: rec)
        up.outputIgnoresParameters = true
        let down = TestStage("train/b", inputs: ["prep/a"], recorder: rec)
        _ = try run([up, down], dir)
        up.parameters = ["comment": "v2"]
        let second = try run([up, down], dir)
        #expect(second.ran == ["prep/a"])
        #expect(second.cached == ["train/b"])
        #expect(rec.count("prep/a") == 2 && rec.count("train/b") == 1)
    }

    @Test func runCacheRestoresEarlierParameters() throws {
        let rec = Recorder()
        let pub = dir.appendingPathComponent("results/tables/a.txt")
        func stage(_ lr: Double) -> TestStage {
            var s = TestStage("train/a", parameters: ["lr": .number(lr)], recorder: rec)
            s.publishes = ["out.txt": "tables/a.txt"]
            return s
        }
        _ = try run([stage(0.1)], dir)
        let published1 = try String(contentsOf: pub, encoding: .utf8)
        _ = try run([stage(0.2)], dir)
        #expect(try String(contentsOf: pub, encoding: .utf8) != published1)
        let restorable = try engine([stage(0.1)], dir).status()[0]
        #expect(
            restorable.state == .fresh
                && restorable.reasons == ["an earlier result, restored and republished by the next run"])
        let out = Captured()
        let third = try run([stage(0.1)], dir, console: out.console)
        #expect(third.cached == ["train/a"])
        #expect(rec.count("train/a") == 2)
        #expect(out.text.contains("restored earlier result"))
        // Publishing follows the restored entry.
        #expect(try String(contentsOf: pub, encoding: .utf8) == published1)
    }

    @Test func publishesOnlyWhenContentDiffers() throws {
        let rec = Recorder()
        var s = TestStage("figure/f", recorder: rec)
        s.publishes = ["out.txt": "figures/f.txt"]
        _ = try run([s], dir)
        let pub = dir.appendingPathComponent("results/figures/f.txt")
        let inode1 = try FileManager.default.attributesOfItem(atPath: pub.path)[.systemFileNumber] as? UInt64
        _ = try run([s], dir)
        let inode2 = try FileManager.default.attributesOfItem(atPath: pub.path)[.systemFileNumber] as? UInt64
        #expect(inode1 != nil && inode1 == inode2)
        try "edited".write(to: pub, atomically: true, encoding: .utf8)
        _ = try run([s], dir)
        #expect(try String(contentsOf: pub, encoding: .utf8).hasPrefix("figure/f"))
    }

    @Test func forceAndDownstreamSemantics() throws {
        let rec = Recorder()
        let stages: [any Stage] = [
            TestStage("prep/a", recorder: rec),
            TestStage("train/b", inputs: ["prep/a"], recorder: rec),
            TestStage("eval/c", inputs: ["train/b"], recorder: rec),
            TestStage("prep/d", recorder: rec)
        ]
        // Selecting b runs its upstream but not its dependants or unrelated stages.
        let first = try run(stages, dir, ["train/b"])
        #expect(first.outcomes.map(\.id) == ["prep/a", "train/b"])
        #expect(first.ran == ["prep/a", "train/b"])
        // Fresh and not forced: nothing runs.
        #expect(try run(stages, dir, ["train/b"]).ran.isEmpty)
        // --force reruns exactly the selection; its fresh upstream is reused.
        let forced = try run(stages, dir, ["train/b"], force: true)
        #expect(forced.ran == ["train/b"] && forced.cached == ["prep/a"])
        // --downstream adds c, which is missing so it runs; b is fresh so it does not.
        let down = try run(stages, dir, ["train/b"], downstream: true)
        #expect(down.ran == ["eval/c"] && down.cached == ["prep/a", "train/b"])
        // --force --downstream reruns the selection and every dependant.
        let both = try run(stages, dir, ["train/b"], force: true, downstream: true)
        #expect(both.ran == ["train/b", "eval/c"])
        #expect(rec.count("prep/d") == 0 && rec.count("prep/a") == 1 && rec.count("train/b") == 3)
    }

    @Test func forcedRerunWithDifferentOutputsWarnsOfNondeterminism() throws {
        var s = TestStage("train/random", recorder: Recorder())
        s.body = { c in
            try UUID().uuidString.write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        #expect(try run([s], dir).warnings.isEmpty)
        let forced = try run([s], dir, force: true)
        #expect(forced.warnings.contains { $0.contains("train/random is not deterministic") })
    }

    @Test func topologicalOrderAndGlobs() throws {
        let rec = Recorder()
        // Ids sort lexically against the data flow, so a lexical order would be wrong.
        let stages: [any Stage] = [
            TestStage("z/source", recorder: rec),
            TestStage("m/left", inputs: ["z/source"], recorder: rec),
            TestStage("m/right", inputs: ["z/source"], recorder: rec),
            TestStage("a/sink", inputs: ["m/left", "m/right"], recorder: rec)
        ]
        let g = try StageGraph(stages.reversed())
        #expect(g.ids == ["z/source", "m/left", "m/right", "a/sink"])
        _ = try run(stages, dir)
        #expect(rec.startOrder == ["z/source", "m/left", "m/right", "a/sink"])
        #expect(try g.select(["m/*"]) == ["m/left", "m/right"])
        #expect(try g.select(["*/s*"]) == ["z/source", "a/sink"])
        #expect(try g.select(["m"]) == ["m/left", "m/right"])
        #expect(g.downstream(of: ["m/left"]) == ["a/sink"])
        #expect(g.upstream(of: ["a/sink"]) == ["z/source", "m/left", "m/right"])
    }

    @Test func twoJobsRunIndependentStagesConcurrently() throws {
        let rec = Recorder()
        let started = DispatchGroup()
        started.enter()
        started.enter()
        let seenOther = Recorder()
        func stage(_ id: StageID) -> TestStage {
            var s = TestStage(id, recorder: rec)
            s.body = { c in
                let t0 = Date()
                started.leave()
                // Each waits for the other to start: only possible when both run at once.
                if started.wait(timeout: .now() + 5) == .success { seenOther.started(id.raw) }
                Thread.sleep(forTimeInterval: 0.05)
                try "x".write(
                    to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
                rec.interval(id.raw, t0, Date())
            }
            return s
        }
        let s = try run([stage("train/a"), stage("train/b")], dir, jobs: 2)
        #expect(s.ran.count == 2)
        #expect(seenOther.count("train/a") == 1 && seenOther.count("train/b") == 1)
        let (a0, a1) = rec.interval("train/a")!
        let (b0, b1) = rec.interval("train/b")!
        #expect(a0 < b1 && b0 < a1)
    }

    @Test func threadBudgetIsShared() throws {
        let rec = Recorder()
        let budget = Recorder()
        func stage(_ id: StageID, preferred: Int? = nil) -> TestStage {
            var s = TestStage(id, recorder: rec)
            s.preferredThreads = preferred
            s.body = { c in
                for _ in 0..<c.threads { budget.started(id.raw) }
                try "x".write(
                    to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
            }
            return s
        }
        let e = try engine([stage("a/one"), stage("a/two"), stage("a/three", preferred: 5)], dir)
        _ = try e.run(nil, options: RunOptions(jobs: 2, threads: 4))
        // The first stage starts with two more waiting and two slots: half the threads. The last may get more.
        #expect(budget.count("a/one") == 2 && budget.count("a/three") == 5)
        #expect((1...4).contains(budget.count("a/two")))
    }

    @Test func handEditedOrDeletedEntryIsRecomputedWithWarning() throws {
        let rec = Recorder()
        let s = TestStage("train/a", recorder: rec)
        _ = try run([s], dir)
        let e = try engine([s], dir)
        let key = e.status()[0].key!
        let file = e.store.outputs(kind: "train", key: key).appendingPathComponent("out.txt")
        try "tampered".write(to: file, atomically: true, encoding: .utf8)
        #expect(e.status()[0].state == .stale)
        #expect(e.status()[0].summary.contains("damaged: out/out.txt modified"))
        let second = try run([s], dir)
        #expect(second.ran == ["train/a"])
        #expect(second.warnings.contains { $0.contains("damaged") && $0.contains("recomputing") })
        #expect(try String(contentsOf: file, encoding: .utf8).hasPrefix("train/a"))

        try FileManager.default.removeItem(at: file)
        let third = try run([s], dir)
        #expect(third.ran == ["train/a"])
        #expect(third.warnings.contains { $0.contains("out/out.txt deleted") })
        #expect(rec.count("train/a") == 3)
    }

    @Test func directoryOutputsAreHashedAndVerified() throws {
        let rec = Recorder()
        var s = TestStage("blocks/a", recorder: rec)
        s.outputs = ["shards"]
        s.body = { c in
            let d = c.outputDirectory.appendingPathComponent("shards")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try "1".write(to: d.appendingPathComponent("0.bin"), atomically: false, encoding: .utf8)
        }
        _ = try run([s], dir)
        let e = try engine([s], dir)
        let key = e.status()[0].key!
        #expect(e.status()[0].state == .fresh)
        try "2".write(
            to: e.store.outputs(kind: "blocks", key: key).appendingPathComponent("shards/0.bin"),
            atomically: true, encoding: .utf8)
        #expect(e.status()[0].state == .stale)
    }
}

@Suite struct ProgressTests {
    let dir = temporaryDirectory()

    func stage(_ rec: Recorder) -> TestStage {
        var s = TestStage("train/a", recorder: rec)
        s.body = { c in
            c.progress("epoch 1/2 loss 4.25", fraction: 0.5)
            c.log("hello from the stage")
            try "x".write(to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        return s
    }

    @Test func plainLinesWhenNotATerminal() throws {
        let out = Captured()
        _ = try run([stage(Recorder())], dir, console: out.console)
        #expect(out.text.contains("run   train/a\n"))
        #expect(out.text.contains("train/a  epoch 1/2 loss 4.25  ["))
        #expect(out.text.contains("ETA"))
        #expect(out.text.contains("done  train/a in "))
        #expect(!out.text.contains("\u{1B}["))
        let e = try engine([stage(Recorder())], dir)
        let log = try String(
            contentsOf: e.store.entry(kind: "train", key: e.status()[0].key!).appendingPathComponent("log.txt"),
            encoding: .utf8)
        #expect(log.contains("hello from the stage") && log.contains("progress: epoch 1/2"))
    }

    @Test func redrawsOnATerminal() throws {
        let out = Captured()
        let console = Console(isTerminal: true) { s in out.console.write(s) }
        _ = try run([stage(Recorder())], dir, console: console)
        #expect(out.text.contains("\u{1B}[2K"))
        #expect(out.text.contains("done  train/a in "))
    }
}
