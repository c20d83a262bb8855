import Foundation
import Testing
@testable import Pipeline

#if os(Linux)
/// A small generic graph through a real Slurm: only when `CPREC_SLURM_TEST=1` (see scripts/slurm-test.sh --generic,
/// which brings a local Slurm up first). Each job re-runs this test binary on one stage against a shared cache.
@Suite struct SlurmClusterTests {
    static let enabled = ProcessInfo.processInfo.environment["CPREC_SLURM_TEST"] == "1"
    static let childRoot = "PIPELINE_TEST_SLURM_ROOT"
    static let childStage = "PIPELINE_TEST_SLURM_STAGE"

    /// fetch -> prep -> two trainings -> table, figure; each stage takes a moment and logs who ran it.
    static func graph(_ root: URL) -> [any Stage] {
        let specs: [(StageID, [StageID])] = [
            ("fetch/data", []), ("prep/data", ["fetch/data"]),
            ("train/data/a", ["prep/data"]), ("train/data/b", ["prep/data"]),
            ("table/t1", ["train/data/a", "train/data/b"]), ("figure/f1", ["train/data/a"])
        ]
        return specs.map { id, inputs in
            var s = TestStage(id, inputs: inputs, parameters: ["seed": 7], recorder: Recorder())
            s.body = { c in
                let line = "\(id) \(ProcessInfo.processInfo.environment["SLURM_JOB_ID"] ?? "-") \(getpid())\n"
                let fd = open(root.appendingPathComponent("runs.txt").path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                _ = line.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                if FileManager.default.fileExists(
                    atPath: root.appendingPathComponent("hang-\(CacheStore.escape(id))").path)
                {
                    try "".write(
                        to: root.appendingPathComponent("started-\(CacheStore.escape(id))"), atomically: true,
                        encoding: .utf8)
                    Thread.sleep(forTimeInterval: 120)
                }
                Thread.sleep(forTimeInterval: 0.3)
                var text = "\(id)\n"
                for i in inputs.sorted() {
                    text += try String(
                        contentsOf: c.inputDirectory(i).appendingPathComponent("out.txt"), encoding: .utf8)
                }
                try text.write(
                    to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
            }
            return s
        }
    }

    /// What each Slurm job runs: one stage, like `pipeline run <id>`; fails the job if the stage fails.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childStage] != nil))
    func slurmJobRunsOneStage() throws {
        let env = ProcessInfo.processInfo.environment
        let root = URL(fileURLWithPath: env[Self.childRoot]!)
        let e = try Engine(stages: Self.graph(root), store: CacheStore(root: root.appendingPathComponent("cache")))
        let summary = try e.run([env[Self.childStage]!], options: RunOptions(threads: 1), console: .standardError())
        #expect(summary.succeeded)
    }

    @Test(.enabled(if: enabled), .timeLimit(.minutes(3)))
    func realSlurmRunsTheGraphLikeALocalRun() throws {
        let root = URL(fileURLWithPath: "/tmp/cprec-slurm-generic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let e = try Engine(stages: Self.graph(root), store: CacheStore(root: root.appendingPathComponent("cache")))
        // One stage already fresh: it must not be submitted.
        #expect(try e.run(["fetch/data"], options: RunOptions(threads: 1)).succeeded)
        let exe = CommandLine.arguments[0]
        let plan = try e.slurmPlan(nil, policy: SlurmResourcePolicy(cpus: 1, time: "00:05:00")) { id, _ in
            [
                "/usr/bin/env", "\(Self.childRoot)=\(root.path)", "\(Self.childStage)=\(id.raw)",
                exe, "--testing-library", "swift-testing", "--filter", "slurmJobRunsOneStage"
            ]
        }
        #expect(plan.fresh == ["fetch/data"] && plan.jobs.count == 5)
        let script = root.appendingPathComponent("submit.sh")
        try SlurmScript.render(
            plan.jobs,
            options: .init(
                logDirectory: root.appendingPathComponent("logs"),
                workingDirectory: root)
        ).write(to: script, atomically: true, encoding: .utf8)
        let start = Date()
        let submitted = SlurmOutput.submitted(try shell(["bash", script.path]).stdout)
        #expect(submitted.map(\.stage) == plan.jobs.map(\.id))

        var states: [String: String] = [:]
        let ids = submitted.map(\.job)
        while Date().timeIntervalSince(start) < 150 {
            states = [:]
            for line in try shell(["squeue", "-h", "-t", "all", "-o", "%i %T", "-j", ids.joined(separator: ",")]).stdout
                .split(separator: "\n")
            {
                let f = line.split(separator: " ")
                if f.count == 2 { states[String(f[0])] = String(f[1]) }
            }
            if ids.allSatisfy({ ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].contains(states[$0] ?? "") }) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let seconds = Date().timeIntervalSince(start)
        print(
            String(
                format: "slurm: %d jobs done in %.1f s: %@", ids.count, seconds,
                ids.map { states[$0] ?? "?" }.joined(separator: " ")))
        #expect(ids.allSatisfy { states[$0] == "COMPLETED" })

        // Every submitted stage ran exactly once, inside its own Slurm job; nothing ran outside Slurm after export.
        let runs = try String(contentsOf: root.appendingPathComponent("runs.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let byStage = Dictionary(grouping: runs, by: { $0[0] })
        #expect(byStage["fetch/data"]?.count == 1 && byStage["fetch/data"]?[0][1] == "-")
        for (job, stage) in submitted {
            #expect(byStage[stage.raw]?.map { $0[1] } == [job])
        }
        #expect(e.status().allSatisfy { $0.state == .fresh })

        // Same output hashes as a local run of the same graph in another cache.
        let local = try Engine(
            stages: Self.graph(root.appendingPathComponent("local")),
            store: CacheStore(root: root.appendingPathComponent("local/cache")))
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("local"), withIntermediateDirectories: true)
        #expect(try local.run(nil, options: RunOptions(threads: 1)).succeeded)
        for id in e.graph.ids {
            let a = try #require(e.store.readIndex(id)), b = try #require(local.store.readIndex(id))
            #expect(a.outputHash == b.outputHash && a.key == b.key, "\(id)")
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Exports the non-fresh stages, submits them, returns (job, stage) pairs.
    func submit(_ e: Engine, _ root: URL) throws -> (plan: SlurmPlan, jobs: [(job: String, stage: StageID)]) {
        let exe = CommandLine.arguments[0]
        let plan = try e.slurmPlan(nil, policy: SlurmResourcePolicy(cpus: 1, time: "00:05:00")) { id, _ in
            [
                "/usr/bin/env", "\(Self.childRoot)=\(root.path)", "\(Self.childStage)=\(id.raw)",
                exe, "--testing-library", "swift-testing", "--filter", "slurmJobRunsOneStage"
            ]
        }
        let script = root.appendingPathComponent("submit-\(UUID().uuidString).sh")
        try SlurmScript.render(
            plan.jobs,
            options: .init(
                logDirectory: root.appendingPathComponent("logs"),
                workingDirectory: root)
        ).write(to: script, atomically: true, encoding: .utf8)
        return (plan, SlurmOutput.submitted(try shell(["bash", script.path]).stdout))
    }

    /// Polls squeue until every job has ended (or `until` says stop); returns each job's state.
    func wait(_ ids: [String], seconds: Double = 120, until: () -> Bool = { false }) throws -> [String: String] {
        var states: [String: String] = [:]
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            states = [:]
            for line in try shell(["squeue", "-h", "-t", "all", "-o", "%i %T", "-j", ids.joined(separator: ",")]).stdout
                .split(separator: "\n")
            {
                let f = line.split(separator: " ")
                if f.count == 2 { states[String(f[0])] = String(f[1]) }
            }
            if until() || ids.allSatisfy({ ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].contains(states[$0] ?? "") })
            {
                break
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return states
    }

    @Test(.enabled(if: enabled), .timeLimit(.minutes(3)))
    func realSlurmRecoversFromACancelledJob() throws {
        let root = URL(fileURLWithPath: "/tmp/cprec-slurm-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let e = try Engine(stages: Self.graph(root), store: CacheStore(root: root.appendingPathComponent("cache")))
        let hang = root.appendingPathComponent("hang-train%2Fdata%2Fa")
        try "".write(to: hang, atomically: true, encoding: .utf8)
        let first = try submit(e, root)
        #expect(first.jobs.count == 6)
        let victim = try #require(first.jobs.first { $0.stage == "train/data/a" }).job
        let started = root.appendingPathComponent("started-train%2Fdata%2Fa")
        _ = try wait([victim], until: { FileManager.default.fileExists(atPath: started.path) })
        try #require(FileManager.default.fileExists(atPath: started.path), "train/data/a never started")
        _ = try shell(["scancel", victim])
        let states = try wait(first.jobs.map(\.job))
        // The cancelled stage's dependants are cancelled too; the rest completes.
        for (job, stage) in first.jobs {
            let expected = ["train/data/a", "table/t1", "figure/f1"].contains(stage.raw) ? "CANCELLED" : "COMPLETED"
            #expect(states[job] == expected, "\(stage)")
        }
        let key = try #require(e.status().first { $0.id == "train/data/a" }?.key)
        #expect(CacheLock.readOwner(e.store.lock(kind: "train", key: key)) != nil, "the killed job left its lock")

        // Export again: only what did not finish is submitted, and the new job breaks the dead job's lock.
        try FileManager.default.removeItem(at: hang)
        let second = try submit(e, root)
        #expect(second.jobs.map(\.stage) == ["train/data/a", "figure/f1", "table/t1"])
        let after = try wait(second.jobs.map(\.job))
        #expect(second.jobs.allSatisfy { after[$0.job] == "COMPLETED" })
        let log = try String(
            contentsOf: root.appendingPathComponent("logs/train_data_a.\(second.jobs[0].job).out"), encoding: .utf8)
        #expect(log.contains("broke stale lock") && log.contains("no longer exists"))
        #expect(e.status().allSatisfy { $0.state == .fresh })
        try? FileManager.default.removeItem(at: root)
    }

    func shell(_ argv: [String]) throws -> (status: Int32, stdout: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
#endif
